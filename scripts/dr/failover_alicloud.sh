#!/usr/bin/env bash
# Fail Dify over to the standby region of an alicloud stack with alicloud.dr (README: Disaster recovery).
#
#   VPC_ID=vpc-... VSWITCH_ID=vsw-... ZONE_ID=cn-shanghai-l VPC_CIDR=192.168.0.0/16 \
#     scripts/dr/failover_alicloud.sh <primary-stack> <standby-stack> [--outputs FILE] [--restore-time ISO8601]
#
# The standby network (VPC_ID, VSWITCH_ID in ZONE_ID, VPC_CIDR) is the one the standby stack uses (its
# alicloud.vpcId / vswitchIds, in a Pulumi.<standby-stack>.yaml you prepared: target alicloud, the standby
# region, size, domain, alicloud.certificateId there).
# 1. reads the primary's `disasterRecovery` output (or FILE: keep a copy with
#    `pulumi stack output --json > dr-outputs.json` after every update);
# 2. restores the database from the newest cross-region backup set (or, with log backups, to
#    --restore-time) into a new instance in the standby region (CreateDdrInstance);
# 3. gives the application account a new password and makes an AccessKey for the replica bucket (a
#    new RAM user with the replica's policy), both handed to Pulumi on stdin;
# 4. points the standby stack at them, runs `pulumi up`, and switches the Alidns record to its CLB.
set -euo pipefail

usage() { echo "usage: $0 <primary-stack> <standby-stack> [--outputs FILE] [--restore-time ISO8601]" >&2; exit 2; }
[ $# -ge 2 ] || usage
PRIMARY_STACK=$1
STANDBY_STACK=$2
shift 2
OUTPUTS_FILE=""
RESTORE_TIME=""
while [ $# -gt 0 ]; do
  case $1 in
    --outputs) OUTPUTS_FILE=$2; shift 2 ;;
    --restore-time) RESTORE_TIME=$2; shift 2 ;;
    *) usage ;;
  esac
done
: "${VPC_ID:?set VPC_ID to the standby VPC}" "${VSWITCH_ID:?set VSWITCH_ID}" "${ZONE_ID:?set ZONE_ID}"
: "${VPC_CIDR:?set VPC_CIDR (the database whitelist)}"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [ -z "$OUTPUTS_FILE" ]; then
  OUTPUTS_FILE=$WORK/outputs.json
  pulumi stack output --stack "$PRIMARY_STACK" --json > "$OUTPUTS_FILE"
fi

out() {
  python3 - "$OUTPUTS_FILE" "$1" <<'PY'
import json, sys
value = json.load(open(sys.argv[1]))["disasterRecovery"].get(sys.argv[2], "")
print(" ".join(value) if isinstance(value, list) else value)
PY
}
# json PATH: a value from the JSON on stdin, by dotted path (numbers index lists).
json() {
  python3 -c 'import json, sys
value = json.load(sys.stdin)
for part in sys.argv[1].split("."):
    value = value[int(part)] if part.isdigit() else value[part]
print(value)' "$1"
}

PRIMARY=$(out primaryRegion)
STANDBY=$(out standbyRegion)
SOURCE=$(out sourceDbInstanceId)
[ -n "$SOURCE" ] || { echo "no cross-region backups in the outputs (postgres.mode managed?)" >&2; exit 1; }

if [ -n "$RESTORE_TIME" ]; then
  RESTORE=(--RestoreType 1 --RestoreTime "$RESTORE_TIME")
else
  BACKUP=$(aliyun rds DescribeCrossRegionBackups \
    --RegionId "$PRIMARY" \
    --DBInstanceId "$SOURCE" \
    --CrossBackupRegion "$STANDBY" \
    | python3 -c 'import json, sys
items = json.load(sys.stdin)["Items"]["Item"]
print(max(items, key=lambda item: item["BackupEndTime"])["CrossBackupId"])')
  RESTORE=(--RestoreType 0 --BackupSetId "$BACKUP")
fi

TARGET=$(aliyun rds CreateDdrInstance \
  --RegionId "$STANDBY" \
  --Engine PostgreSQL \
  --EngineVersion "$(out dbEngineVersion)" \
  --DBInstanceClass "$(out dbInstanceType)" \
  --DBInstanceStorage "$(out dbStorageGb)" \
  --DBInstanceStorageType "$(out dbStorageType)" \
  --DBInstanceNetType Intranet \
  --InstanceNetworkType VPC \
  --VPCId "$VPC_ID" \
  --VSwitchId "$VSWITCH_ID" \
  --ZoneId "$ZONE_ID" \
  --PayType Postpaid \
  --SecurityIPList "$VPC_CIDR" \
  --SourceDBInstanceName "$SOURCE" \
  --SourceRegion "$PRIMARY" \
  "${RESTORE[@]}" | json DBInstanceId)
echo "restoring $SOURCE into $TARGET in $STANDBY"

aliyun rds DescribeDBInstanceAttribute \
  --DBInstanceId "$TARGET" \
  --waiter expr='Items.DBInstanceAttribute[0].DBInstanceStatus' to=Running timeout=7200 interval=60 > /dev/null

# aliyun takes parameters on its command line only: run this from a machine no one else shares.
PASSWORD="Dr$(python3 -c 'import secrets; print(secrets.token_hex(14))')"
aliyun rds ResetAccountPassword \
  --DBInstanceId "$TARGET" \
  --AccountName "$(out dbUser)" \
  --AccountPassword "$PASSWORD" > /dev/null
HOST=$(aliyun rds DescribeDBInstanceNetInfo --DBInstanceId "$TARGET" \
  | json DBInstanceNetInfos.DBInstanceNetInfo.0.ConnectionString)

USER_NAME="dify-standby-$(date +%Y%m%d%H%M)"
aliyun ram CreateUser --UserName "$USER_NAME" --DisplayName "Dify standby object storage" > /dev/null
aliyun ram AttachPolicyToUser --PolicyType Custom --PolicyName "$(out replicaPolicyName)" --UserName "$USER_NAME"
aliyun ram CreateAccessKey --UserName "$USER_NAME" > "$WORK/key.json"

set_config() { pulumi config set --stack "$STANDBY_STACK" --path "$@"; }
secret_config() { pulumi config set --stack "$STANDBY_STACK" --secret --path "$1"; }
set_config target alicloud
set_config alicloud.region "$STANDBY"
set_config postgres.mode external
set_config postgres.host "$HOST"
set_config postgres.user "$(out dbUser)"
printf '%s' "$PASSWORD" | secret_config postgres.password
set_config objectStorage.mode external
set_config objectStorage.kind oss
set_config objectStorage.bucket "$(out replicaBucket)"
set_config objectStorage.endpoint "$(out replicaEndpoint)"
set_config objectStorage.region "$STANDBY"
json AccessKey.AccessKeyId < "$WORK/key.json" | tr -d '\n' | secret_config objectStorage.accessKey
json AccessKey.AccessKeySecret < "$WORK/key.json" | tr -d '\n' | secret_config objectStorage.secretKey
set_config redis.mode managed
pulumi up --stack "$STANDBY_STACK" --yes

ADDRESS=$(pulumi stack output --stack "$STANDBY_STACK" loadBalancerAddress)
DOMAIN=$(out domain)
ZONE=$(out dnsZone)
if [ -z "$DOMAIN" ] || [ -z "$ZONE" ]; then
  echo "standby is up at $ADDRESS: point your name at it" >&2
  exit 0
fi
RR=${DOMAIN%".$ZONE"}
[ "$RR" != "$DOMAIN" ] || RR=@
RECORD=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["dnsRecord"])' "$OUTPUTS_FILE")
aliyun alidns UpdateDomainRecord --RecordId "$RECORD" --RR "$RR" --Type A --Value "$ADDRESS" --TTL 600
echo "failover to $STANDBY done: $DOMAIN -> $ADDRESS"
