#!/bin/sh
# Run by the nginx image's entrypoint (mounted in /docker-entrypoint.d): nginx resolves the `web`
# replicas per request through the container network's DNS server, the first nameserver of
# /etc/resolv.conf (Docker's 127.0.0.11, Podman's aardvark-dns on the network's gateway). The later
# ones (the host's, under Podman) do not know the service names, and nginx would ask them in turn.
set -eu
resolv=${RESOLV_CONF:-/etc/resolv.conf}
out=${RESOLVER_CONF:-/etc/nginx/conf.d/00-resolver.conf}
ns=$(awk '$1 == "nameserver" { print $2; exit }' "$resolv")
if [ -z "$ns" ]; then
    echo "resolver.sh: no nameserver in $resolv: nginx cannot find the web replicas" >&2
    exit 1
fi
case $ns in
*:*) ns="[$ns]" ;;
esac
printf 'resolver %s valid=5s ipv6=off;\nresolver_timeout 5s;\n' "$ns" >"$out"
echo "resolver.sh: web replicas resolved through $ns (answers kept 5 s)"
