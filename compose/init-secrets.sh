#!/bin/sh
# Creates the stack's missing secrets and never replaces one. The compose stacks run it first
# (service init-secrets, as root, in the odoo-saas image) on the `secrets` volumes.
#   init-secrets.sh DEST SEED NAME:OWNER:KIND...
# Each NAME (or DIR/NAME) becomes DEST/NAME, mode 0600, owned by OWNER (a user or uid of the image).
# Its content: SEED/<last part of NAME>.txt when that file exists (your own secret, compose/secrets/NAME.txt),
# else KIND `random` (32 random letters and digits) or `empty` (an optional credential: S3, SMTP).
# Secret values are never printed.
set -eu
dest=$1
seed=$2
shift 2
umask 077
# the directory itself only names the secrets: the containers' users must be able to enter it
mkdir -p "$dest"
chmod 0755 "$dest"
for spec in "$@"; do
    name=${spec%%:*}
    rest=${spec#*:}
    owner=${rest%%:*}
    kind=${rest#*:}
    base=${name##*/}
    target=$dest/$name
    dir=${target%/*}
    mkdir -p "$dir"
    chmod 0755 "$dir"
    if [ -e "$target" ]; then
        echo "init-secrets: $name exists, kept"
        continue
    fi
    tmp=$dir/.$base.new
    rm -f "$tmp"
    if [ -f "$seed/$base.txt" ]; then
        cat "$seed/$base.txt" >"$tmp"
        how="copied from $base.txt"
    elif [ "$kind" = random ]; then
        value=$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | cut -c 1-32)
        printf '%s' "$value" >"$tmp"
        how=generated
    elif [ "$kind" = empty ]; then
        : >"$tmp"
        how="empty (optional; put your own in $base.txt)"
    else
        echo "init-secrets: $spec: KIND must be random or empty" >&2
        exit 2
    fi
    chmod 0600 "$tmp"
    chown "$owner" "$tmp"
    # ln refuses an existing name: a secret appearing meanwhile is kept, never overwritten
    if ln "$tmp" "$target" 2>/dev/null; then
        echo "init-secrets: $name $how"
    else
        echo "init-secrets: $name exists, kept"
    fi
    rm -f "$tmp"
done
