#!/bin/sh
# Creates the stack's missing secrets and never replaces one, then gives each service its own
# copies of the ones it reads. The compose stacks run it first at every start (service
# init-secrets, as root, in the odoo-saas image).
#   init-secrets.sh DEST SEED NAME:OWNER:KIND...
# Each NAME (or DIR/NAME) becomes DEST/NAME, mode 0600, owned by OWNER (a user or uid of the image).
# KIND `random` or `empty`: a secret of the store (DEST itself, mounted in this service only),
# made once: SEED/<last part of NAME>.txt when that file exists (your own secret,
# compose/secrets/NAME.txt), else 32 random letters and digits (`random`) or nothing (`empty`:
# an optional credential, S3 or SMTP). KIND `copy=SRC` or `hash=SRC`: what a service reads, in
# the volume mounted at DIR (that service's only): a copy of DEST/SRC, or the pbkdf2-sha512 hash
# of it (`odoo-saas hash-password`: Odoo's master password), rewritten at every run so that it
# follows the store. Secret values are never printed.
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
    case $kind in
        random | empty | copy=?* | hash=?*) ;;
        *)
            echo "init-secrets: $spec: KIND must be random, empty, copy=SRC or hash=SRC" >&2
            exit 2
            ;;
    esac
    mkdir -p "$dir"
    chmod 0755 "$dir"
    tmp=$dir/.$base.new
    rm -f "$tmp"
    case $kind in
        copy=* | hash=*)
            source=${kind#*=}
            if [ ! -f "$dest/$source" ]; then
                echo "init-secrets: $name: $source does not exist (list it before)" >&2
                exit 2
            fi
            if [ "${kind%%=*}" = copy ]; then
                cat "$dest/$source" >"$tmp"
            elif ! odoo-saas hash-password <"$dest/$source" >"$tmp"; then
                rm -f "$tmp"
                echo "init-secrets: $name: cannot hash $source" >&2
                exit 2
            fi
            chmod 0600 "$tmp"
            chown "$owner" "$tmp"
            # derived, not a secret of its own: replaced (rename), so it follows the store
            mv -f "$tmp" "$target"
            echo "init-secrets: $name from $source (${kind%%=*})"
            continue
            ;;
    esac
    if [ -e "$target" ]; then
        echo "init-secrets: $name exists, kept"
        continue
    fi
    if [ -f "$seed/$base.txt" ]; then
        cat "$seed/$base.txt" >"$tmp"
        how="copied from $base.txt"
    elif [ "$kind" = random ]; then
        value=$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | cut -c 1-32)
        printf '%s' "$value" >"$tmp"
        how=generated
    else
        : >"$tmp"
        how="empty (optional; put your own in $base.txt)"
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
