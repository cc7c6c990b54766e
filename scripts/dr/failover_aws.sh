#!/usr/bin/env bash
# Fail Dify over to the standby region of an aws stack with aws.dr (README: Disaster recovery).
#
#   scripts/dr/failover_aws.sh <primary-stack> <standby-stack> [--outputs FILE] [--force-dns]
#
# 1. reads the primary's `disasterRecovery` output (from FILE when the state backend is unreachable:
#    keep a copy with `pulumi stack output --json > dr-outputs.json` after every update);
# 2. restores the database in the standby region from the replicated automated backups, to the latest
#    restorable time, into the standby network's DB subnet group, and gives it a new master password;
# 3. points the standby stack (a Pulumi.<standby-stack>.yaml you prepared: target aws, size, domain,
#    aws.certificateArn for `domain` in the standby region) at the restored instance, the replica bucket
#    and the standby network, and runs `pulumi up` there;
# 4. points aws.dr.standbyHostname at the standby ALB; Route 53 answers with it once the primary's health
#    check fails (--force-dns inverts the check, for a primary that still answers but must not serve).
set -euo pipefail

usage() { echo "usage: $0 <primary-stack> <standby-stack> [--outputs FILE] [--force-dns]" >&2; exit 2; }
[ $# -ge 2 ] || usage
PRIMARY_STACK=$1
STANDBY_STACK=$2
shift 2
OUTPUTS_FILE=""
FORCE_DNS=false
while [ $# -gt 0 ]; do
  case $1 in
    --outputs) OUTPUTS_FILE=$2; shift 2 ;;
    --force-dns) FORCE_DNS=true; shift ;;
    *) usage ;;
  esac
done

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [ -z "$OUTPUTS_FILE" ]; then
  OUTPUTS_FILE=$WORK/outputs.json
  pulumi stack output --stack "$PRIMARY_STACK" --json > "$OUTPUTS_FILE"
fi

# out KEY: a value of the disasterRecovery output (lists joined by spaces).
out() {
  python3 - "$OUTPUTS_FILE" "$1" <<'PY'
import json, sys
value = json.load(open(sys.argv[1]))["disasterRecovery"].get(sys.argv[2], "")
print(" ".join(value) if isinstance(value, list) else value)
PY
}

STANDBY=$(out standbyRegion)
BACKUP_ARN=$(out backupReplicationArn)
[ -n "$BACKUP_ARN" ] || { echo "no replicated backups in the outputs (postgres.mode managed?)" >&2; exit 1; }
TARGET="$(out sourceDbInstanceIdentifier)-dr"
echo "restoring $BACKUP_ARN in $STANDBY as $TARGET"

aws rds describe-db-instance-automated-backups \
  --region "$STANDBY" \
  --db-instance-automated-backups-arn "$BACKUP_ARN" \
  --query 'DBInstanceAutomatedBackups[0].RestoreWindow' \
  --output json

aws rds restore-db-instance-to-point-in-time \
  --region "$STANDBY" \
  --source-db-instance-automated-backups-arn "$BACKUP_ARN" \
  --target-db-instance-identifier "$TARGET" \
  --use-latest-restorable-time \
  --db-instance-class "$(out dbInstanceClass)" \
  --db-subnet-group-name "$(out standbyDbSubnetGroup)" \
  --vpc-security-group-ids "$(out standbyDbSecurityGroupId)" \
  --multi-az \
  --no-publicly-accessible \
  --storage-type gp3 \
  --copy-tags-to-snapshot \
  --deletion-protection \
  --enable-cloudwatch-logs-exports postgresql upgrade \
  --output text --query 'DBInstance.DBInstanceStatus'

aws rds wait db-instance-available --region "$STANDBY" --db-instance-identifier "$TARGET"

# A new master password, handed to the AWS CLI and to Pulumi on stdin only (never on a command line).
PASSWORD=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
printf '{"DBInstanceIdentifier": "%s", "MasterUserPassword": "%s", "ApplyImmediately": true}' "$TARGET" "$PASSWORD" \
  | aws rds modify-db-instance --region "$STANDBY" --cli-input-json file:///dev/stdin --output text \
      --query 'DBInstance.DBInstanceStatus'
sleep 30
aws rds wait db-instance-available --region "$STANDBY" --db-instance-identifier "$TARGET"

HOST=$(aws rds describe-db-instances \
  --region "$STANDBY" \
  --db-instance-identifier "$TARGET" \
  --query 'DBInstances[0].Endpoint.Address' \
  --output text)

set_config() { pulumi config set --stack "$STANDBY_STACK" --path "$@"; }
set_config target aws
set_config aws.region "$STANDBY"
set_config aws.vpcId "$(out standbyVpcId)"
i=0; for subnet in $(out standbyPrivateSubnetIds); do set_config "aws.privateSubnetIds[$i]" "$subnet"; i=$((i + 1)); done
i=0; for subnet in $(out standbyPublicSubnetIds); do set_config "aws.publicSubnetIds[$i]" "$subnet"; i=$((i + 1)); done
set_config postgres.mode external
set_config postgres.host "$HOST"
set_config postgres.user "$(out dbUser)"
set_config postgres.sslMode require
set_config postgres.maxConnections "$(out dbMaxConnections)"
printf '%s' "$PASSWORD" | pulumi config set --stack "$STANDBY_STACK" --secret --path postgres.password
set_config objectStorage.mode external
set_config objectStorage.kind s3
set_config objectStorage.bucket "$(out replicaBucket)"
set_config objectStorage.region "$STANDBY"
set_config objectStorage.useWorkloadIdentity true
set_config redis.mode managed
pulumi up --stack "$STANDBY_STACK" --yes

ALB=$(pulumi stack output --stack "$STANDBY_STACK" loadBalancerHostname)
STANDBY_NAME=$(out standbyHostname)
ZONE=$(out hostedZoneId)
if [ -z "$ZONE" ]; then
  echo "standby is up at $ALB; no failover records (aws.dr.failoverRecords): point your name at it" >&2
  exit 0
fi
case $STANDBY_NAME in
  *.elb.amazonaws.com)
    [ "$STANDBY_NAME" = "$ALB" ] || echo "the SECONDARY record names $STANDBY_NAME, the standby ALB is $ALB: set \
aws.dr.standbyHostname to it and run pulumi up on the primary when it is back" >&2 ;;
  *)
    ALB_ZONE=$(aws elbv2 describe-load-balancers \
      --region "$STANDBY" \
      --query "LoadBalancers[?DNSName=='$ALB'].CanonicalHostedZoneId | [0]" \
      --output text)
    cat > "$WORK/change.json" <<JSON
{"Comment": "Dify failover to $STANDBY", "Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
  "Name": "$STANDBY_NAME", "Type": "A",
  "AliasTarget": {"HostedZoneId": "$ALB_ZONE", "DNSName": "$ALB", "EvaluateTargetHealth": true}}}]}
JSON
    aws route53 change-resource-record-sets --hosted-zone-id "$ZONE" --change-batch "file://$WORK/change.json"
    ;;
esac
if [ "$FORCE_DNS" = true ]; then
  # Inverting a failing check would make it pass: only a primary that still passes is inverted.
  CHECK=$(out healthCheckId)
  PASSING=$(aws route53 get-health-check-status \
    --health-check-id "$CHECK" \
    --query "length(HealthCheckObservations[?starts_with(StatusReport.Status, 'Success')])" \
    --output text)
  if [ "$PASSING" -gt 0 ]; then
    aws route53 update-health-check --health-check-id "$CHECK" --inverted
    echo "health check $CHECK inverted: undo with --no-inverted when failing back" >&2
  fi
fi
echo "failover to $STANDBY done: $(out failoverName) answers with the standby once the primary's check fails"
