"""Run the Pulumi program against mocks: no Pulumi CLI, no Azure, no credentials.

The mocks record every resource the program declares (type, logical name, inputs) and answer with
outputs shaped like Azure's (ARM ids, endpoints, the Function App's identity), so the tests can assert
the platform's posture on exactly what would be sent to Azure.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime.mocks import MockMonitor

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
TENANT = "99999999-8888-7777-6666-555555555555"
REPO_ROOT = Path(__file__).resolve().parents[2]
NAME_SUFFIX = "k7q2x"  # what the mocked random provider makes for the global names' suffix
DEV_STACK_FILE = REPO_ROOT / "infra" / "Pulumi.dev.yaml"

# pulumi type token -> (ARM resource type, input holding the Azure name)
ARM_TYPES: dict[str, tuple[str, str]] = {
    "azure-native:cosmosdb:DatabaseAccount": ("Microsoft.DocumentDB/databaseAccounts", "accountName"),
    "azure-native:cognitiveservices:Account": ("Microsoft.CognitiveServices/accounts", "accountName"),
    "azure-native:storage:StorageAccount": ("Microsoft.Storage/storageAccounts", "accountName"),
    "azure-native:web:WebApp": ("Microsoft.Web/sites", "name"),
    "azure-native:web:AppServicePlan": ("Microsoft.Web/serverfarms", "name"),
    "azure-native:machinelearningservices:Workspace": (
        "Microsoft.MachineLearningServices/workspaces",
        "workspaceName",
    ),
    "azure-native:operationalinsights:Workspace": (
        "Microsoft.OperationalInsights/workspaces",
        "workspaceName",
    ),
    "azure-native:applicationinsights:Component": ("Microsoft.Insights/components", "resourceName"),
    "azure-native:applicationinsights:Workbook": ("Microsoft.Insights/workbooks", "resourceName"),
    "azure-native:keyvault:Vault": ("Microsoft.KeyVault/vaults", "vaultName"),
    "azure-native:monitor:ActionGroup": ("Microsoft.Insights/actionGroups", "actionGroupName"),
    "azure-native:monitor:ScheduledQueryRule": ("Microsoft.Insights/scheduledQueryRules", "ruleName"),
    "azure-native:eventgrid:SystemTopic": ("Microsoft.EventGrid/systemTopics", "systemTopicName"),
}
NAME_INPUTS = (
    "containerName", "queueName", "deploymentName", "computeName", "eventSubscriptionName", "databaseName",
    "roleAssignmentId", "name", "accountName", "workspaceName", "vaultName", "resourceName", "ruleName",
    "actionGroupName", "systemTopicName", "roleAssignmentName", "resourceGroupName",
)  # fmt: skip


@dataclass(frozen=True)
class Recorded:
    typ: str
    name: str
    inputs: dict[str, Any]
    id: str

    @property
    def module(self) -> str:
        return self.typ.split(":")[1] if self.typ.count(":") == 2 else ""


class PlatformMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[Recorded] = []
        self.calls: list[str] = []
        # logical name -> logical names it depends on (explicit depends_on and the outputs it reads)
        self.dependencies: dict[str, set[str]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        outputs = dict(inputs)
        azure_name = next((inputs[k] for k in NAME_INPUTS if isinstance(inputs.get(k), str)), args.name)
        outputs["name"] = azure_name
        resource_id = self._arm_id(args.typ, inputs, azure_name)
        outputs.update(self._computed(args.typ, inputs, azure_name))
        if args.typ.startswith(("azure-native:", "command:", "random:")):
            self.resources.append(Recorded(args.typ, args.name, inputs, resource_id))
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        self.calls.append(args.token)
        if args.token == "azure-native:authorization:getClientConfig":
            return {"tenantId": TENANT, "subscriptionId": SUBSCRIPTION, "clientId": "c", "objectId": "o"}
        return {}

    @staticmethod
    def _arm_id(typ: str, inputs: dict[str, Any], azure_name: str) -> str:
        if typ == "azure-native:resources:ResourceGroup":
            return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{azure_name}"
        group = inputs.get("resourceGroupName", "rg")
        arm_type, _ = ARM_TYPES.get(typ, (f"Mock.{typ.replace(':', '.')}", ""))
        return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/{arm_type}/{azure_name}"

    @staticmethod
    def _computed(typ: str, inputs: dict[str, Any], azure_name: str) -> dict[str, Any]:
        if typ == "random:index/randomString:RandomString":
            return {"result": NAME_SUFFIX}
        if typ == "azure-native:cosmosdb:DatabaseAccount":
            return {"documentEndpoint": f"https://{azure_name}.documents.azure.com:443/"}
        if typ == "azure-native:cognitiveservices:Account":
            domain = "openai.azure.com" if inputs.get("kind") == "OpenAI" else "cognitiveservices.azure.com"
            subdomain = inputs.get("properties", {}).get("customSubDomainName", azure_name)
            return {"properties": {**inputs.get("properties", {}), "endpoint": f"https://{subdomain}.{domain}/"}}
        if typ == "azure-native:storage:StorageAccount":
            return {
                "primaryEndpoints": {
                    "blob": f"https://{azure_name}.blob.core.windows.net/",
                    "queue": f"https://{azure_name}.queue.core.windows.net/",
                }
            }
        if typ == "azure-native:web:WebApp":
            return {
                "defaultHostName": f"{azure_name}.azurewebsites.net",
                "identity": {
                    "type": "SystemAssigned",
                    "principalId": "principal-of-function-app",
                    "tenantId": TENANT,
                },
            }
        if typ == "azure-native:eventgrid:SystemTopic":
            return {"identity": {"type": "SystemAssigned", "principalId": f"principal-of-{azure_name}"}}
        if typ == "azure-native:machinelearningservices:Compute":
            return {"identity": {"type": "SystemAssigned", "principalId": f"principal-of-{azure_name}"}}
        if typ == "azure-native:applicationinsights:Component":
            return {
                "connectionString": "InstrumentationKey=11111111-2222-3333-4444-555555555555;"
                "IngestionEndpoint=https://swedencentral-0.in.applicationinsights.azure.com/",
                "instrumentationKey": "11111111-2222-3333-4444-555555555555",
            }
        return {}


_register_resource = MockMonitor.RegisterResource


def _recording_register(self: MockMonitor, request: Any) -> Any:
    """What the engine would be told a resource waits for (the mocks' ``new_resource`` does not see it)."""
    if isinstance(self.mocks, PlatformMocks):
        self.mocks.dependencies[request.name] = {urn.rsplit("::", 1)[-1] for urn in request.dependencies}
    return _register_resource(self, request)


MockMonitor.RegisterResource = _recording_register  # type: ignore[method-assign]


@dataclass
class ProgramRun:
    resources: list[Recorded]
    outputs: dict[str, Any]
    config: Any
    dependencies: dict[str, set[str]] = field(default_factory=dict)

    def depends_on(self, name: str) -> set[str]:
        """The logical names of the resources ``name`` waits for."""
        return self.dependencies.get(name, set())

    def of_type(self, typ: str) -> list[Recorded]:
        return [r for r in self.resources if r.typ == f"azure-native:{typ}"]

    def one(self, typ: str) -> Recorded:
        found = self.of_type(typ)
        assert len(found) == 1, f"expected one {typ}, found {len(found)}"
        return found[0]

    def by_id(self, resource_id: str) -> Recorded:
        return next(r for r in self.resources if r.id == resource_id)


def dev_stack_values() -> dict[str, Any]:
    """The documented example stack's ``llmops:`` values, keys without the namespace."""
    document = yaml.safe_load(DEV_STACK_FILE.read_text(encoding="utf-8"))
    return {k.split(":", 1)[1]: v for k, v in document["config"].items() if k.startswith("llmops:")}


def make_function_app_tree(root: Path) -> Path:
    """A small repository tree: what the package must hold and what it must leave out."""
    files = {
        "function_app.py": "import azure.functions as func\napp = func.FunctionApp()\n",
        "host.json": '{"version": "2.0"}\n',
        "functions/__init__.py": "",
        "functions/gateway.py": "# handlers\n",
        "shared/__init__.py": "",
        "shared/core.py": "VALUE = 1\n",
        "shared/README.md": "docs\n",
        "shared/__pycache__/core.cpython-311.pyc": "bytecode",
        "pipelines/train.py": "# pipeline\n",
        "prompts/support.yaml": "name: support\n",
        "requirements.txt": "stale==0.0.1\n",
        "tests/test_x.py": "def test(): pass\n",
        "bench/gateway.py": "# bench\n",
        "infra/__main__.py": "# pulumi\n",
        "llmops/cli.py": "# cli\n",
        "docs/guide.txt": "guide\n",
        ".venv/lib/site.py": "# venv\n",
        ".llmops/data.sqlite3": "db",
        "node_modules/x/index.js": "//\n",
        "dist/old.zip": "old",
        "README.md": "# readme\n",
        "Makefile": "all:\n",
        "local.settings.json": "{}\n",
    }
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    shutil.copy(REPO_ROOT / ".funcignore", root / ".funcignore")
    shutil.copy(REPO_ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


# Pulumi's runtime needs an event loop on the calling thread and, in its mock monitor, on each executor
# thread (it creates one there when missing and never closes it). The loops are made here, kept, and
# closed when the session ends, so none is left for the garbage collector to complain about.
_loops: list[asyncio.AbstractEventLoop] = []


def _thread_loop() -> None:
    loop = asyncio.new_event_loop()
    _loops.append(loop)
    asyncio.set_event_loop(loop)


def _pulumi_loop() -> asyncio.AbstractEventLoop:
    if not _loops or _loops[0].is_closed():
        loop = asyncio.new_event_loop()
        loop.set_default_executor(ThreadPoolExecutor(4, thread_name_prefix="pulumi-mocks", initializer=_thread_loop))
        _loops.insert(0, loop)
    return _loops[0]


@pytest.fixture(scope="session", autouse=True)
def _close_pulumi_loops() -> Iterator[None]:
    yield
    if _loops:
        _loops[0].run_until_complete(_loops[0].shutdown_default_executor())
    for loop in _loops:
        loop.close()


@pytest.fixture(autouse=True)
def _pulumi_event_loop() -> None:
    asyncio.set_event_loop(_pulumi_loop())


def run_program(values: dict[str, Any], stack: str, repo_root: Path) -> ProgramRun:
    from infra.config import parse_stack_config
    from infra.program import build_platform

    mocks = PlatformMocks()
    # Pulumi's mocks run on the thread's current event loop; tests before this one (asyncio.run) may
    # have left the thread without one. One loop serves every run and is closed when the session ends.
    asyncio.set_event_loop(_pulumi_loop())
    pulumi.runtime.set_mocks(mocks, project="llmops", stack=stack, preview=False)
    cfg = parse_stack_config(values, stack=stack)
    resolved: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        outputs = build_platform(cfg, stack, repo_root)
        return pulumi.Output.from_input(outputs).apply(resolved.update)

    program()
    return ProgramRun(resources=mocks.resources, outputs=resolved, config=cfg, dependencies=mocks.dependencies)


@pytest.fixture(scope="session")
def stack_values() -> Callable[[], dict[str, Any]]:
    return lambda: json.loads(json.dumps(dev_stack_values()))


@pytest.fixture
def deployed_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[ProgramRun], Any]]:
    """``deployed_settings(run)``: the environment set to the run's app settings, read into ``Settings``.
    The process-wide settings cache is cleared afterwards, so nothing read here outlives the test."""
    from shared.config import Settings, reset_settings_cache

    def apply(run: ProgramRun) -> Settings:
        for setting in run.one("web:WebApp").inputs["siteConfig"]["appSettings"]:
            monkeypatch.setenv(setting["name"], setting["value"])
        reset_settings_cache()
        return Settings()

    yield apply
    monkeypatch.undo()
    reset_settings_cache()


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    """The whole program, run once on the example stack with a few values changed."""
    root = make_function_app_tree(tmp_path_factory.mktemp("repo"))
    values = dev_stack_values()
    values["tags"] = {"cost-center": "ai-platform", "team": "llmops"}
    values["alerts"] = {**values["alerts"], "ttftP95Ms": 750, "error5xxPercent": 3.5}
    values["ml"] = {**values["ml"], "regressionSet": "azureml:llmops-regression-set:1"}
    values["functionApp"] = {**values["functionApp"], "packagePath": str(root / "dist" / "function-app.zip")}
    return run_program(values, "test", root)
