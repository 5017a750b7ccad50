#!/usr/bin/env bash
# MongoDB with authentication as a replica set (the services need one): authentication on a replica
# set requires a key file, with which members authenticate to each other. This set has one member,
# so the key never leaves the container: a fresh random one at every start will do.
set -euo pipefail
key=/tmp/mongo-replica.key
head -c 756 /dev/urandom | base64 -w 0 > "$key"
chmod 400 "$key"
chown mongodb:mongodb "$key"
# The image's entrypoint creates the root user and runs init-users.js on the first start only.
exec docker-entrypoint.sh mongod --replSet rs0 --bind_ip_all --keyFile "$key"
