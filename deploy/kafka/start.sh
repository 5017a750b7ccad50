#!/usr/bin/env bash
# Starts the apache/kafka image with SASL/SCRAM. Two things the image cannot do alone:
# * the super user must exist before the first client can authenticate, and a SCRAM credential can
#   otherwise be added only by an authenticated client: so the storage is formatted here, with the
#   admin's credential (kafka-storage format --add-scram); the image's own start then finds it
#   formatted and goes on;
# * the broker's own login (inter-broker, as admin) lives in a JAAS file, written here from the
#   environment so that no password is in a mounted file or in server.properties.
# The environment variables holding secrets deliberately do not start with KAFKA_: the image turns
# every KAFKA_* variable into a line of server.properties.
set -euo pipefail
: "${ADMIN_PASSWORD:?}" "${CLUSTER_ID:?}"
case "$ADMIN_PASSWORD" in   # it goes into JAAS and SCRAM syntax unescaped
  CHANGE_ME) echo "KAFKA_ADMIN_PASSWORD is the placeholder of deploy/.env.example" >&2; exit 1;;
  *[!A-Za-z0-9_.~-]*) echo "KAFKA_ADMIN_PASSWORD: use only letters, digits and _.~-" >&2; exit 1;;
esac
log_dirs=${KAFKA_LOG_DIRS:-/tmp/kraft-combined-logs}

if [ ! -f "$log_dirs/meta.properties" ]; then
  format=$(mktemp)
  cat > "$format" <<PROPS
process.roles=$KAFKA_PROCESS_ROLES
node.id=$KAFKA_NODE_ID
controller.quorum.voters=$KAFKA_CONTROLLER_QUORUM_VOTERS
controller.listener.names=$KAFKA_CONTROLLER_LISTENER_NAMES
listeners=$KAFKA_LISTENERS
advertised.listeners=$KAFKA_ADVERTISED_LISTENERS
listener.security.protocol.map=$KAFKA_LISTENER_SECURITY_PROTOCOL_MAP
inter.broker.listener.name=$KAFKA_INTER_BROKER_LISTENER_NAME
sasl.enabled.mechanisms=$KAFKA_SASL_ENABLED_MECHANISMS
sasl.mechanism.inter.broker.protocol=$KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL
log.dirs=$log_dirs
PROPS
  /opt/kafka/bin/kafka-storage.sh format --cluster-id "$CLUSTER_ID" --config "$format" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=$ADMIN_PASSWORD]"
  rm -f "$format"
fi

# Readable by this container's user only: the broker's login, and a client configuration for the
# healthcheck and for operators (docker compose exec kafka /opt/kafka/bin/kafka-acls.sh
#   --bootstrap-server localhost:9092 --command-config /tmp/admin.properties --list).
umask 077
jaas=/tmp/kafka_server_jaas.conf
cat > "$jaas" <<JAAS
KafkaServer {
  org.apache.kafka.common.security.scram.ScramLoginModule required
  username="admin"
  password="$ADMIN_PASSWORD";
};
JAAS
cat > /tmp/admin.properties <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$ADMIN_PASSWORD";
PROPS
umask 022
export KAFKA_OPTS="${KAFKA_OPTS:-} -Djava.security.auth.login.config=$jaas"
unset ADMIN_PASSWORD
exec /etc/kafka/docker/run
