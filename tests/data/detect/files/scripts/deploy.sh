#!/bin/sh
set -eu
curl -sf -u deployer:bhumvCxDADezfIRA https://artifacts.acme.example/upload -T build.tar
echo "dckr_pat_Lsh4V30fqCR-vXqag1l6hkWCiSI" | docker login -u acme --password-stdin
