#!/usr/bin/env bash
# Installs voicecast as a systemd service. Run as root after `cargo build --release`:
#
#     sudo bash systemd/install.sh
#
# Safe to run again (to upgrade): it replaces the binary, the unit and the sysusers file,
# but never overwrites /etc/voicecast/voicecast.toml, never touches the password file,
# the store or the campaign files, and never starts or restarts the service.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=target/release/voicecast
state=/var/lib/voicecast
campaigns=$state/campaigns
etc=/etc/voicecast

if [[ $EUID -ne 0 ]]; then
    echo "run me as root (sudo bash $0)" >&2
    exit 1
fi
if [[ ! -x $bin ]]; then
    echo "no $bin: run \`cargo build --release\` first" >&2
    exit 1
fi

echo "== binary: /usr/local/bin/voicecast"
install -D -m 0755 "$bin" /usr/local/bin/voicecast
install -D -m 0644 README.md /usr/local/share/doc/voicecast/README.md

echo "== user and group voicecast"
install -D -m 0644 systemd/voicecast.sysusers /usr/lib/sysusers.d/voicecast.conf
systemd-sysusers /usr/lib/sysusers.d/voicecast.conf

echo "== unit: /etc/systemd/system/voicecast.service"
install -D -m 0644 systemd/voicecast.service /etc/systemd/system/voicecast.service

echo "== configuration: $etc"
install -d -m 0755 -o root -g root "$etc"
if [[ -e $etc/voicecast.toml ]]; then
    echo "$etc/voicecast.toml exists: left as it is"
else
    # Written to a temporary file first so an interrupted run leaves no half file.
    tmp=$(mktemp "$etc/.voicecast.toml.XXXXXX")
    cat >"$tmp" <<'EOF'
# voicecast configuration. Every key, with its default: voicecast.example.toml in the
# source tree. After a change: `systemctl reload voicecast`.
#
# The API password is not kept here: put it in /etc/voicecast/api-password (root:root,
# mode 0600); systemd hands it to the daemon (LoadCredential= in the unit). Do not set
# password_file: the daemon itself cannot read that file.

[api]
base_url = "http://123.57.254.226"   # the vendor's address; no trailing /openapi
# customer = "C123"                  # your customer name from the vendor: "C" + digits
mode = "v1"                          # v1: one call per request | v2: batches

[limits]
rate = 10                            # calls per second, whole account

[paths]
campaigns = "/var/lib/voicecast/campaigns"   # inbox/, active/, done/, reports/, ...
database = "/var/lib/voicecast/voicecast.db" # the SQLite store

[push]                               # the vendor's pushes (optional)
# listen = "127.0.0.1:8601"

[log]
level = "info"

[campaign_defaults]
calling_hours = ["09:00-20:00"]
timezone = "Asia/Shanghai"
EOF
    # Readable by the daemon and by operators (group voicecast), for `voicecast status`.
    chown root:voicecast "$tmp"
    chmod 0640 "$tmp"
    mv "$tmp" "$etc/voicecast.toml"
    echo "wrote $etc/voicecast.toml"
fi

echo "== state and campaign root: $campaigns"
# The same owner and mode systemd gives StateDirectory= (StateDirectoryMode=0750).
install -d -m 0750 -o voicecast -g voicecast "$state"
# Group-writable for operators; setgid so dropped files and new folders keep the group.
install -d -m 2770 -o voicecast -g voicecast "$campaigns"

if [[ -d /run/systemd/system ]]; then
    systemctl daemon-reload
else
    echo "systemd is not running here: run \`systemctl daemon-reload\` on the target"
fi

cat <<EOF

Installed. Next steps:
  1. Set your customer name in $etc/voicecast.toml ([api] customer).
  2. Store the API password (root only):
       ( umask 077; read -rsp 'API password: ' p; echo; printf '%s\n' "\$p" >$etc/api-password )
  3. Let operators drop lists and read reports:  usermod -aG voicecast USER
  4. Start it now and at every boot:             systemctl enable --now voicecast
     Watch it:                                   journalctl -u voicecast -f
     After an upgrade:                           systemctl restart voicecast
EOF
