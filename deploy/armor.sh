#!/usr/bin/env bash
# Cloud Armor policy for the external HTTPS load balancer in front of Cloud Run.
#   PROJECT_ID=my-project deploy/armor.sh
# WAF rules start in preview (logged, not enforced): watch the logs
# (jsonPayload.previewSecurityPolicy) for false positives, then drop --preview
# with `gcloud compute security-policies rules update PRIORITY --no-preview`.
# Rules are evaluated by priority, lowest first; a preview rule does not stop
# evaluation. The rate limit comes after the WAF rules because its
# conform-action "allow" ends evaluation for requests under the limit.
set -euo pipefail
: "${PROJECT_ID:?}"
policy=fluxori-api-armor
p=(--project "$PROJECT_ID" --security-policy "$policy")

gcloud compute security-policies describe "$policy" --project "$PROJECT_ID" >/dev/null 2>&1 ||
	gcloud compute security-policies create "$policy" --project "$PROJECT_ID" \
		--description "Fluxori API: preconfigured WAF (preview) + per-IP rate limit"
# Inspect JSON request bodies (the API speaks JSON) and log verbosely while tuning.
gcloud compute security-policies update "$policy" --project "$PROJECT_ID" \
	--json-parsing STANDARD --log-level VERBOSE

rule() { # priority action args...
	local prio=$1
	shift
	if gcloud compute security-policies rules describe "$prio" "${p[@]}" >/dev/null 2>&1; then
		gcloud compute security-policies rules update "$prio" "${p[@]}" "$@"
	else
		gcloud compute security-policies rules create "$prio" "${p[@]}" "$@"
	fi
}

prio=1000
for waf in sqli-v33-stable xss-v33-stable lfi-v33-stable rce-v33-stable \
	scannerdetection-v33-stable protocolattack-v33-stable; do
	rule "$prio" --expression "evaluatePreconfiguredWaf('$waf', {'sensitivity': 1})" \
		--action deny-403 --preview --description "WAF $waf (preview)"
	prio=$((prio + 10))
done

# 600 requests/min per client IP; above that → 429, and the IP is banned for 10 min.
rule 2000 --src-ip-ranges '*' --action rate-based-ban \
	--rate-limit-threshold-count 600 --rate-limit-threshold-interval-sec 60 \
	--ban-duration-sec 600 --conform-action allow --exceed-action deny-429 \
	--enforce-on-key IP --description "per-IP rate limit with ban"
