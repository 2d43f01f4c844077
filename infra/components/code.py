"""Code: deploys the package that ``llmops package`` builds to the Flex Consumption app.

Why the Azure CLI and not a ``storage.Blob`` upload: the app's storage account has shared-key access
off, and the Azure Native provider uploads blobs with account keys (pulumi-azure-native issues #2015,
#2948); and a zip dropped straight into the deployment container is not built, so Python
dependencies would be missing. ``az functionapp deployment source config-zip --build-remote true``
uses Entra ID (the same login Pulumi uses) and Flex Consumption's remote build installs
``requirements.txt``. The command reruns only when the package's SHA-256 changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_command import local

from infra.components.common import COMPONENT_PREFIX

# New role assignments take up to ~10 minutes to apply (until then the upload fails with 403), and a
# remote build takes minutes more: retry until the deadline (functionApp.deployTimeoutMinutes). Event
# Grid then refuses a subscription to a function the app does not list yet, so wait for it too.
DEPLOY_SCRIPT = """set -euo pipefail
deadline=$((SECONDS + DEPLOY_TIMEOUT_S))
attempt=1
until az functionapp deployment source config-zip \\
    --resource-group "$RESOURCE_GROUP" --name "$FUNCTION_APP" --src "$PACKAGE" --build-remote true; do
  if (( SECONDS >= deadline )); then
    echo "deployment still failing after $DEPLOY_TIMEOUT_S s; rerun pulumi up (roles may still be applying)" >&2
    exit 1
  fi
  echo "deployment attempt $attempt failed; retrying in $RETRY_S s (role assignments may still be applying)" >&2
  sleep "$RETRY_S"
  attempt=$((attempt + 1))
done
until az functionapp function show --resource-group "$RESOURCE_GROUP" --name "$FUNCTION_APP" \\
    --function-name "$WAIT_FOR_FUNCTION" --query name --output tsv > /dev/null 2>&1; do
  if (( SECONDS >= deadline )); then
    echo "function $WAIT_FOR_FUNCTION is not listed after $DEPLOY_TIMEOUT_S s; check the app's logs" >&2
    exit 1
  fi
  echo "waiting for the app to list $WAIT_FOR_FUNCTION" >&2
  sleep "$RETRY_S"
done
"""


def deploy_command(resource_group: str, function_app: str, package: str) -> str:
    """The same deployment by hand (what ``codeDeployment: none`` leaves to you)."""
    return (
        f"az functionapp deployment source config-zip --resource-group {resource_group} "
        f"--name {function_app} --src {package} --build-remote true"
    )


@dataclass(frozen=True)
class CodeArgs:
    resource_group_name: pulumi.Input[str]
    function_app_name: pulumi.Input[str]
    package_path: str  # absolute
    package_sha256: str
    # Deploy only once the app's identity can write to its deployment container.
    after: Sequence[pulumi.Resource]
    # The deployment is done when the app lists this function (what the Event Grid subscription needs).
    wait_for_function: str
    timeout_minutes: int = 30
    retry_seconds: int = 30


class Code(pulumi.ComponentResource):
    deployment: local.Command

    def __init__(self, name: str, args: CodeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{COMPONENT_PREFIX}:Code", name, None, opts)
        self.deployment = local.Command(
            "deploy-package",
            create=DEPLOY_SCRIPT,
            update=DEPLOY_SCRIPT,
            interpreter=["/bin/bash", "-c"],
            environment={
                "RESOURCE_GROUP": args.resource_group_name,
                "FUNCTION_APP": args.function_app_name,
                "PACKAGE": args.package_path,
                "WAIT_FOR_FUNCTION": args.wait_for_function,
                "DEPLOY_TIMEOUT_S": str(args.timeout_minutes * 60),
                "RETRY_S": str(args.retry_seconds),
            },
            triggers=[args.package_sha256],
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.after)),
        )
        self.register_outputs({"package_sha256": args.package_sha256})
