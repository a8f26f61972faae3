#!/usr/bin/env bash
# Deploy build/gcp/ (deploy/gcp/build.sh) as a Cloud Functions (2nd gen) HTTP function.
#
# Records go to an S3-compatible object store (Cloudflare R2 by default, or Amazon S3): a
# function instance has no durable disk. Secrets come from Secret Manager, never the command line:
#   stricture-ingest-token       the bearer token(s) CI sends
#   stricture-object-key-id      the object store's access key id
#   stricture-object-secret      the object store's secret access key
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
project="${GCP_PROJECT:?set GCP_PROJECT}"
region="${GCP_REGION:-europe-west1}"
name="${FUNCTION_NAME:-stricture-server}"
driver="${STRICTURE_SERVER_STORAGE_DRIVER:-r2}"
bucket="${STRICTURE_SERVER_OBJECT_BUCKET:?set STRICTURE_SERVER_OBJECT_BUCKET}"

env_vars="STRICTURE_SERVER_STORAGE_DRIVER=${driver}"
env_vars+=",STRICTURE_SERVER_OBJECT_BUCKET=${bucket}"
env_vars+=",STRICTURE_SERVER_AUTH_MODE=token"
if [ "$driver" = "r2" ]; then
    env_vars+=",STRICTURE_SERVER_R2_ACCOUNT_ID=${STRICTURE_SERVER_R2_ACCOUNT_ID:?set STRICTURE_SERVER_R2_ACCOUNT_ID}"
else
    env_vars+=",AWS_REGION=${AWS_REGION:?set AWS_REGION}"
fi

# --allow-unauthenticated: the function checks the bearer token itself, on every path but
# /healthz. The 2nd gen request limit is 32 MB; the server's own cap (10 MiB) answers first.
gcloud functions deploy "$name" \
    --gen2 \
    --project="$project" \
    --region="$region" \
    --runtime=python312 \
    --source="$root/build/gcp" \
    --entry-point=stricture \
    --trigger-http \
    --allow-unauthenticated \
    --memory=1Gi \
    --timeout=60s \
    --set-env-vars="$env_vars" \
    --set-secrets="STRICTURE_SERVER_INGEST_TOKEN=stricture-ingest-token:latest,AWS_ACCESS_KEY_ID=stricture-object-key-id:latest,AWS_SECRET_ACCESS_KEY=stricture-object-secret:latest"

# The periodic tasks (alert delivery from the outbox): a second function, not public, called
# every minute by Cloud Scheduler with an OIDC token of the scheduler's service account.
scheduler_sa="${SCHEDULER_SERVICE_ACCOUNT:?set SCHEDULER_SERVICE_ACCOUNT (invokes the scheduled function)}"
gcloud functions deploy "${name}-scheduled" \
    --gen2 \
    --project="$project" \
    --region="$region" \
    --runtime=python312 \
    --source="$root/build/gcp" \
    --entry-point=stricture_scheduled \
    --trigger-http \
    --no-allow-unauthenticated \
    --memory=512Mi \
    --timeout=300s \
    --max-instances=1 \
    --set-env-vars="$env_vars" \
    --set-secrets="AWS_ACCESS_KEY_ID=stricture-object-key-id:latest,AWS_SECRET_ACCESS_KEY=stricture-object-secret:latest"
gcloud functions add-invoker-policy-binding "${name}-scheduled" \
    --project="$project" --region="$region" --member="serviceAccount:${scheduler_sa}"
scheduled_uri="$(gcloud functions describe "${name}-scheduled" --gen2 --project="$project" \
    --region="$region" --format='value(serviceConfig.uri)')"
if ! gcloud scheduler jobs describe "${name}-scheduled" --project="$project" \
    --location="$region" >/dev/null 2>&1; then
    gcloud scheduler jobs create http "${name}-scheduled" \
        --project="$project" \
        --location="$region" \
        --schedule="* * * * *" \
        --http-method=POST \
        --uri="$scheduled_uri" \
        --oidc-service-account-email="$scheduler_sa"
fi

gcloud functions describe "$name" --gen2 --project="$project" --region="$region" \
    --format='value(serviceConfig.uri)'
