#!/bin/sh
# Dumps the synapse database once a day into $BACKUP_DIR and keeps $BACKUP_KEEP_DAYS days of dumps.
# Run as `sh /etc/nerchat-backup/backup.sh` (the conf sync does not carry the executable bit).
set -eu

: "${BACKUP_DIR:=/backup}"
: "${BACKUP_KEEP_DAYS:=14}"

dump() {
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  tmp="$BACKUP_DIR/.synapse-$stamp.dump.partial"
  # set -e does not apply inside a function called from `if`, hence the explicit returns.
  pg_dump --format=custom --compress=6 --no-owner --file="$tmp" || { rm -f "$tmp"; return 1; }
  mv "$tmp" "$BACKUP_DIR/synapse-$stamp.dump" || return 1
  find "$BACKUP_DIR" -name 'synapse-*.dump' -mtime +"$BACKUP_KEEP_DAYS" -delete
  echo "backup: wrote $BACKUP_DIR/synapse-$stamp.dump"
}

# Wait for the socket: nerchat-pgsql may still be starting after a deploy.
until pg_isready --quiet; do sleep 5; done

while true; do
  if dump; then
    sleep 86400
  else
    echo "backup: pg_dump failed, retrying in an hour" >&2
    sleep 3600
  fi
done
