#!/bin/sh
# Prepare a Temporal namespace for InvoiceFlow: wait for the server, create the namespace
# if it is missing, then register the custom search attributes operations filter on in
# the Temporal UI. Safe to run again and again: what exists already is left alone.
#
# Runs in the temporalio/admin-tools image (Alpine, POSIX sh, the `temporal` CLI), as the
# one-shot `temporal-admin-tools` service of docker-compose.yml; also usable by hand
# against any Temporal server:  TEMPORAL_ADDRESS=host:7233 sh create-search-attributes.sh
#
# The list below mirrors schemas/search_attributes.py (ALL): tests/deploy/test_compose.py
# fails when the two drift apart.
set -eu

: "${TEMPORAL_ADDRESS:=temporal:7233}"
: "${TEMPORAL_NAMESPACE:=default}"
: "${TEMPORAL_NAMESPACE_RETENTION:=30d}"
: "${WAIT_ATTEMPTS:=90}"
: "${WAIT_SECONDS:=2}"
export TEMPORAL_ADDRESS

# name type (types as `temporal operator search-attribute create --type` spells them)
SEARCH_ATTRIBUTES="
InvoiceId Keyword
InvoiceNumber Keyword
CustomerId Keyword
InvoiceStatus Keyword
AmountDue Int
Currency Keyword
DueDate Datetime
DisputeLevel Int
DisputeSlaBreached Bool
ExceptionReason Keyword
ExceptionOwner Keyword
SyncStatus Keyword
SyncFailingSince Datetime
"

ns="$TEMPORAL_NAMESPACE"

# retry N CMD...: run CMD until it succeeds, at most N times, WAIT_SECONDS apart.
retry() {
    attempts="$1"
    shift
    i=1
    until "$@"; do
        if [ "$i" -ge "$attempts" ]; then
            return 1
        fi
        i=$((i + 1))
        sleep "$WAIT_SECONDS"
    done
}

server_serving() {
    temporal operator cluster health 2>/dev/null | grep -q SERVING
}

namespace_exists() {
    temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1
}

# The registered type of search attribute $1 in the namespace, lower-cased ("" if none).
registered_type() {
    temporal operator search-attribute list --namespace "$ns" 2>/dev/null \
        | awk -v name="$1" '$1 == name { print tolower($2); exit }'
}

normalise_type() {
    echo "$1" | tr '[:upper:]' '[:lower:]' | sed -e 's/^indexed_value_type_//' -e 's/_//g'
}

echo "waiting for Temporal at $TEMPORAL_ADDRESS"
if ! retry "$WAIT_ATTEMPTS" server_serving; then
    echo "Temporal at $TEMPORAL_ADDRESS is not serving after $WAIT_ATTEMPTS attempts" >&2
    exit 1
fi

if namespace_exists; then
    echo "namespace $ns exists"
else
    echo "creating namespace $ns (retention $TEMPORAL_NAMESPACE_RETENTION)"
    temporal operator namespace create --namespace "$ns" \
        --retention "$TEMPORAL_NAMESPACE_RETENTION" \
        --description "InvoiceFlow" || true
    # Registration takes a few seconds to be visible to every service.
    if ! retry "$WAIT_ATTEMPTS" namespace_exists; then
        echo "namespace $ns could not be created" >&2
        exit 1
    fi
fi
# The namespace cache must know the namespace before search attributes can be added.
retry "$WAIT_ATTEMPTS" temporal operator search-attribute list --namespace "$ns" >/dev/null

echo "$SEARCH_ATTRIBUTES" | while read -r name type; do
    [ -n "$name" ] || continue
    want="$(normalise_type "$type")"
    have="$(normalise_type "$(registered_type "$name")")"
    if [ -z "$have" ]; then
        echo "creating search attribute $name ($type)"
        # A concurrent run may win the race: check the outcome rather than the exit code.
        temporal operator search-attribute create --namespace "$ns" \
            --name "$name" --type "$type" || true
        have="$(normalise_type "$(registered_type "$name")")"
    fi
    if [ "$have" = "$want" ]; then
        echo "search attribute $name: $type"
    elif [ -z "$have" ]; then
        echo "search attribute $name could not be created" >&2
        exit 1
    else
        echo "search attribute $name exists with type $have, expected $type" >&2
        exit 1
    fi
done

echo "namespace $ns is ready for InvoiceFlow"
