#!/bin/sh
# mkcerts.sh DIR - makes the certificates the TLS tests use, with the openssl
# CLI, into DIR (a fresh temporary directory; nothing here is ever checked
# in). P-256 keys, quick to make and to use:
#   ca.pem ca.key           the test CA
#   server.pem server.key   signed by it: localhost, 127.0.0.1, ::1
#   client.pem client.key   signed by it: CN=alice,O=Example (mutual TLS)
#   other-ca.pem            a CA that signed nothing here (a wrong CA)
#   stranger.pem .key       a client signed by other-ca (refused by mutual TLS)
#   expired.pem .key        signed by the CA, valid 2020-01-01 to 2020-01-02
#   wrongname.pem .key      signed by the CA for other.example only
# Exits 77 (skipped) without the openssl CLI.
set -eu
dir=$1
command -v openssl >/dev/null 2>&1 || { echo "skipped: openssl not installed"; exit 77; }
cd "$dir"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() { # NAME CN
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 30 -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign,cRLSign 2>/dev/null
}
# leaf NAME SUBJECT SAN CA [openssl ca dates...]: signed with `openssl ca`,
# which takes any validity period (x509 -req cannot date one in the past).
leaf() {
  name=$1 subj=$2 san=$3 signer=$4
  shift 4
  key "$name.key"
  openssl req -new -key "$name.key" -out "$name.csr" -subj "$subj" 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$san" > "$name.ext"
  : > index.txt
  [ -f serial ] || echo 1000 > serial
  cat > ca.cnf <<CNF
[ca]
default_ca = tca
[tca]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
default_days = 30
policy = any
unique_subject = no
[any]
commonName = supplied
organizationName = optional
CNF
  openssl ca -batch -config ca.cnf -cert "$signer.pem" -keyfile "$signer.key" -in "$name.csr" \
    -out "$name.pem" -extfile "$name.ext" -notext "$@" 2>/dev/null
}
ca ca "socketserver test CA"
ca other-ca "another CA"
leaf server "/CN=localhost" "DNS:localhost,IP:127.0.0.1,IP:::1" ca
leaf client "/CN=alice/O=Example" "DNS:alice.example" ca
leaf stranger "/CN=mallory" "DNS:mallory.example" other-ca
leaf expired "/CN=localhost" "DNS:localhost,IP:127.0.0.1" ca \
  -startdate 20200101000000Z -enddate 20200102000000Z
leaf wrongname "/CN=other.example" "DNS:other.example" ca
rm -f ./*.csr ./*.ext index.txt* serial* ca.cnf ./*[0-9A-F][0-9A-F].pem
