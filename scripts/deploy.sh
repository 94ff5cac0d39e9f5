#!/usr/bin/env bash
# sam build + sam deploy of template.yaml with the dev profile of samconfig.toml.
# Every value the stack needs comes from the environment (nothing secret is
# kept in the repository):
#   DEPLOY_VPC_ID, DEPLOY_SUBNET_IDS (comma-separated private subnets),
#   DEPLOY_DB_HOST, DEPLOY_DB_SECURITY_GROUP, DEPLOY_DB_PASSWORD,
#   CUSTOMERS_IMAGE, ORDERS_IMAGE (from make images),
#   JWT_SECRET, SERVICE_TOKEN (32+ characters each),
#   optional: DEPLOY_STAGE (dev), DEPLOY_DESIRED_COUNT (1), DEPLOY_DB_NAME,
#   DEPLOY_DB_USER, AWS_REGION,
#   DEPLOY_JWT_ISSUER, DEPLOY_JWT_AUDIENCE (the iss / aud user tokens carry).
# DEPLOY_DB_PASSWORD: 16+ of A-Z a-z 0-9 . _ ~ - (it goes into DATABASE_URL).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for v in DEPLOY_VPC_ID DEPLOY_SUBNET_IDS DEPLOY_DB_HOST DEPLOY_DB_SECURITY_GROUP DEPLOY_DB_PASSWORD \
         CUSTOMERS_IMAGE ORDERS_IMAGE JWT_SECRET SERVICE_TOKEN; do
  [ -n "${!v:-}" ] || missing+=("$v")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "set: ${missing[*]} (see docs/deploy.md, \"Deploy to AWS\")" >&2
  exit 1
fi
stage="${DEPLOY_STAGE:-dev}"
sam build --beta-features
sam deploy --config-env dev \
  --stack-name "order-back-office-$stage" \
  --region "${AWS_REGION:-us-east-1}" \
  --parameter-overrides \
    "Stage=$stage" \
    "DesiredCount=${DEPLOY_DESIRED_COUNT:-1}" \
    "VpcId=$DEPLOY_VPC_ID" \
    "SubnetIds=$DEPLOY_SUBNET_IDS" \
    "CustomersImage=$CUSTOMERS_IMAGE" \
    "OrdersImage=$ORDERS_IMAGE" \
    "DatabaseHost=$DEPLOY_DB_HOST" \
    "DatabaseSecurityGroupId=$DEPLOY_DB_SECURITY_GROUP" \
    "DatabaseName=${DEPLOY_DB_NAME:-backoffice}" \
    "DatabaseUser=${DEPLOY_DB_USER:-backoffice}" \
    "DatabasePassword=$DEPLOY_DB_PASSWORD" \
    "JwtSecret=$JWT_SECRET" \
    "ServiceToken=$SERVICE_TOKEN" \
    ${DEPLOY_JWT_ISSUER:+"JwtIssuer=$DEPLOY_JWT_ISSUER"} \
    ${DEPLOY_JWT_AUDIENCE:+"JwtAudience=$DEPLOY_JWT_AUDIENCE"}
