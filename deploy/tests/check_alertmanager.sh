#!/bin/sh
# Alertmanager's configuration (deploy/alertmanager.yml) checked with amtool: it parses, and an alert
# reaches the receiver its severity names. Debian's amtool (0.25) predates `url_file` (Alertmanager
# 0.26; compose runs a newer image), so the check reads each url_file as a plain url, nothing else changed.
set -eu
here=$(mktemp -d)
trap 'rm -rf "$here"' EXIT
sed 's#url_file: /alertmanager/\([a-z]*\)-webhook.url#url: http://127.0.0.1:9/\1#' deploy/alertmanager.yml > "$here/alertmanager.yml"
amtool check-config "$here/alertmanager.yml"
amtool config routes test --config.file="$here/alertmanager.yml" --verify.receivers=page severity=page alertname=BrokerUnreachable
amtool config routes test --config.file="$here/alertmanager.yml" --verify.receivers=ticket severity=ticket alertname=DeadLetters
amtool config routes test --config.file="$here/alertmanager.yml" --verify.receivers=ticket alertname=Unlabelled
