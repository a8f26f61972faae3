#!/usr/bin/env bash
# Create (first time) and publish the Azure function app from build/azure/ (deploy/azure/build.sh).
#
# Needs the Azure CLI (az) and Azure Functions Core Tools 4 (func), logged in with `az login`.
# Records go to an S3-compatible object store (Cloudflare R2 by default, or Amazon S3): a function
# instance has no durable disk, and Blob Storage speaks no S3 API.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
group="${AZURE_RESOURCE_GROUP:?set AZURE_RESOURCE_GROUP}"
app="${AZURE_FUNCTION_APP:?set AZURE_FUNCTION_APP}"
location="${AZURE_LOCATION:-westeurope}"
storage_account="${AZURE_STORAGE_ACCOUNT:?set AZURE_STORAGE_ACCOUNT}"
driver="${STRICTURE_SERVER_STORAGE_DRIVER:-r2}"

if [ "${CREATE:-0}" = "1" ]; then
    az group create --name "$group" --location "$location"
    az storage account create --name "$storage_account" --resource-group "$group" \
        --location "$location" --sku Standard_LRS
    # Flex Consumption, Linux, Python 3.11 (azure-functions 1.x; 2.x needs Python 3.13).
    az functionapp create --name "$app" --resource-group "$group" \
        --storage-account "$storage_account" --flexconsumption-location "$location" \
        --runtime python --runtime-version 3.11
fi

# App settings: the server's own, and the object store's credentials (standard AWS names).
az functionapp config appsettings set --name "$app" --resource-group "$group" --output none \
    --settings \
    "STRICTURE_SERVER_STORAGE_DRIVER=${driver}" \
    "STRICTURE_SERVER_OBJECT_BUCKET=${STRICTURE_SERVER_OBJECT_BUCKET:?set STRICTURE_SERVER_OBJECT_BUCKET}" \
    "STRICTURE_SERVER_R2_ACCOUNT_ID=${STRICTURE_SERVER_R2_ACCOUNT_ID:-}" \
    "STRICTURE_SERVER_AUTH_MODE=token" \
    "STRICTURE_SERVER_INGEST_TOKEN=${STRICTURE_SERVER_INGEST_TOKEN:?set STRICTURE_SERVER_INGEST_TOKEN}" \
    "AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID}" \
    "AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY}" \
    "AWS_REGION=${AWS_REGION:-auto}"

cd "$root/build/azure"
func azure functionapp publish "$app" --python
