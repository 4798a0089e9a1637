#!/usr/bin/env bash
# Least-privilege service accounts for the Fluxori API (re-runnable: creates
# skip existing accounts; IAM bindings are set-union operations).
#   PROJECT_ID=my-project BUCKET=my-bucket deploy/iam.sh
# Run once before `gcloud run services replace`; the run.invoker grant at the
# end needs the service, so re-run after the first deploy (it is skipped until then).
set -euo pipefail
: "${PROJECT_ID:?}" "${BUCKET:?}"
region=${REGION:-africa-south1}
api=fluxori-api@$PROJECT_ID.iam.gserviceaccount.com
sched=fluxori-scheduler@$PROJECT_ID.iam.gserviceaccount.com

gcloud iam service-accounts describe "$api" --project "$PROJECT_ID" >/dev/null 2>&1 ||
	gcloud iam service-accounts create fluxori-api --project "$PROJECT_ID" --display-name "Fluxori API (Cloud Run)"
gcloud iam service-accounts describe "$sched" --project "$PROJECT_ID" >/dev/null 2>&1 ||
	gcloud iam service-accounts create fluxori-scheduler --project "$PROJECT_ID" --display-name "Fluxori Cloud Scheduler jobs"

project_role() { # member role
	gcloud projects add-iam-policy-binding "$PROJECT_ID" --member "serviceAccount:$1" --role "$2" \
		--condition None >/dev/null
}

# Firestore documents: read/write/transactions, no index or database admin.
project_role "$api" roles/datastore.user
# Identity Toolkit admin: create users, set custom claims, revoke tokens.
project_role "$api" roles/firebaseauth.admin
# Vertex AI generateContent (Gemini insights) in FLUXORI_VERTEX_LOCATION.
project_role "$api" roles/aiplatform.user
# Structured logs to Cloud Logging.
project_role "$api" roles/logging.logWriter
# Metrics to Cloud Monitoring.
project_role "$api" roles/monitoring.metricWriter
# Upload/read/delete objects in the files bucket only, not project-wide.
gcloud storage buckets add-iam-policy-binding "gs://$BUCKET" --member "serviceAccount:$api" \
	--role roles/storage.objectAdmin >/dev/null
# signBlob on itself only: V4 signed URLs without a key file.
gcloud iam service-accounts add-iam-policy-binding "$api" --project "$PROJECT_ID" \
	--member "serviceAccount:$api" --role roles/iam.serviceAccountTokenCreator >/dev/null
# The key that seals merchants' secrets (lib/seal.h, FLUXORI_SECRETS_KEY_FILE in
# service.yaml, which mounts version 1): created once with 32 random bytes in base64,
# piped so the key never touches a disk; rotation in deploy/README.md. The API
# reads this secret only, not every secret in the project.
gcloud secrets describe fluxori-secrets-key --project "$PROJECT_ID" >/dev/null 2>&1 ||
	openssl rand -base64 32 | gcloud secrets create fluxori-secrets-key --project "$PROJECT_ID" --data-file=- \
		--labels app=fluxori >/dev/null
gcloud secrets add-iam-policy-binding fluxori-secrets-key --project "$PROJECT_ID" \
	--member "serviceAccount:$api" --role roles/secretmanager.secretAccessor >/dev/null
# Scheduler → API: the service is public (the API checks the OIDC token itself),
# so run.invoker is not required, but harmless and right if ingress/auth tighten.
if gcloud run services describe fluxori-api --region "$region" --project "$PROJECT_ID" >/dev/null 2>&1; then
	gcloud run services add-iam-policy-binding fluxori-api --region "$region" --project "$PROJECT_ID" \
		--member "serviceAccount:$sched" --role roles/run.invoker >/dev/null
else
	echo "iam: fluxori-api not deployed yet; re-run after deploy for the scheduler's run.invoker" >&2
fi
