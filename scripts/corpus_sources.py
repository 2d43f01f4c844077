"""Where every training corpus comes from: public repositories pinned to a commit, plus the
development sets in ``../shared/data`` (read where they are, never copied into the project).

Each ``Source`` names a repository @ commit and a path; ``read`` returns the file's bytes from a
local bare mirror (``--mirror-dir``, default ``/work/.mirror``: the layout the ``fetch`` tool leaves,
``owner+name/repo``). ``data/CARD.md`` lists the same sources with their licences and row counts
(``scripts/build_corpora.py --card`` prints the counts).

Reserved for independent evaluation and never read here: BIPIA, XSTest, JailbreakBench artifacts
other than the JBC file in ``../shared/data``, the deepset prompt-injection test split, HaluEval beyond
``../shared/data``, Climate-FEVER, MRPC, GPTCache's ``similiar_qqp*.json`` beyond ``../shared/data``,
OpenAI's moderation-api-release, ToxiGen and Presidio's synthetic sets beyond ``../shared/data``.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MIRROR = Path("/work/.mirror")
ROOT = Path(__file__).resolve().parents[1]
# ../shared/data beside the checkout (a worktree one level deeper finds the same folder)
SHARED_DATA = next(
    (p / "shared" / "data" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared" / "data").is_dir()),
    ROOT.parent / "shared" / "data",
)


@dataclass(frozen=True)
class Source:
    repo: str
    commit: str
    path: str
    licence: str

    def git_dir(self, mirror: Path) -> Path:
        base = mirror / self.repo.replace("/", "+") / "repo"
        return base / ".git" if (base / ".git").is_dir() else base

    def read(self, mirror: Path) -> bytes:
        git_dir = self.git_dir(mirror)
        if not git_dir.exists():
            raise FileNotFoundError(f"{self.repo} is not mirrored under {mirror} (fetch github:{self.repo})")
        return subprocess.run(
            ["git", f"--git-dir={git_dir}", "show", f"{self.commit}:{self.path}"],
            check=True,
            capture_output=True,
        ).stdout

    def list(self, mirror: Path, under: str) -> list[str]:
        out = subprocess.run(
            ["git", f"--git-dir={self.git_dir(mirror)}", "ls-tree", "-r", "--name-only", self.commit, under],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return [line for line in out.splitlines() if line]

    def cite(self) -> str:
        return f"{self.repo} @{self.commit[:7]} {self.path}"


JAILBREAK_LLMS = Source(
    "yunwei37/satml-llmail-injection",
    "360613b492c5a4e8f9297b32adc819f0aa27210a",
    "data/jailbreak_human_set2/jailbreak_prompts_2023_12_25.csv",
    "MIT (verazuo/jailbreak_llms data, copied unchanged in this repository)",
)
TENSOR_TRUST_HIJACK = Source(
    "HumanCompatibleAI/tensor-trust-data",
    "e2385ea9cf448c9641b96e2e39f113ed4979a5b0",
    "benchmarks/hijacking-robustness/v1/hijacking_robustness_dataset.jsonl",
    "no licence file (research release); weights only, texts not committed",
)
TENSOR_TRUST_EXTRACT = Source(
    TENSOR_TRUST_HIJACK.repo,
    TENSOR_TRUST_HIJACK.commit,
    "benchmarks/extraction-robustness/v1/extraction_robustness_dataset.jsonl",
    TENSOR_TRUST_HIJACK.licence,
)
CLINC = Source("clinc/oos-eval", "828f8093932c8fe6ca7936c3d2e52903b1c523de", "data/data_full.json", "CC BY 3.0")
BANKING77 = Source(
    "PolyAI-LDN/task-specific-datasets", "57ec275d8078af65b7731c2a98be812d844a6d6b", "banking_data/train.csv",
    "CC BY 4.0",
)
ALPACA_SEED = Source(
    "tatsu-lab/stanford_alpaca", "761dc5bfbdeeffa89b8bff5d038781a4055f796a", "seed_tasks.jsonl", "Apache-2.0"
)
HUMANEVAL = Source("openai/human-eval", "6d43fb980f9fee3c892a914eda09951f772ad10d", "data/HumanEval.jsonl.gz", "MIT")
CODE_ALPACA = Source(
    "sahil280114/codealpaca", "2f78ddc5c682ed6738ad092bbbfa59ba915afcb0", "data/code_alpaca_2k.json",
    "CC BY-NC 4.0 (data); weights only, texts not committed",
)
GSM8K = Source(
    "openai/grade-school-math", "3101c7d5072418e28b9008a6636bde82a006892c", "grade_school_math/data/train.jsonl", "MIT"
)
ENRON = Source(
    "ryanzhumich/AESLC",
    "7afc087a1cc234d07121f0d4a2d87102ddceabc2",
    "enron_subject_line/train",
    "CC BY-NC-SA 4.0 (annotations); Enron e-mail bodies are a public FERC release",
)
DAVIDSON = Source(
    "t-davidson/hate-speech-and-offensive-language",
    "cb50f7e9eb855a99abc51423bf40df0e26d6fe30",
    "data/labeled_data.csv",
    "MIT",
)
HATECHECK = Source(
    "paul-rottger/hatecheck-data", "d84302298ceeb34f4b0dde2d8a1f4932c2caa612", "test_suite_cases.csv", "CC BY 4.0"
)
ETHOS = Source(
    "intelligence-csd-auth-gr/Ethos-Hate-Speech-Dataset",
    "705258e118ce9611ebbd5ab2a4841b0066547293",
    "ethos/ethos_data/Ethos_Dataset_Multi_Label.csv",
    "GPL-3.0 (data); weights only, texts not committed",
)
ETHOS_BINARY = Source(ETHOS.repo, ETHOS.commit, "ethos/ethos_data/Ethos_Dataset_Binary.csv", ETHOS.licence)
SURGE = Source("surge-ai/toxicity", "ea80324b95ed7e3cc787bdb6faeb763fcc0ae258", "toxicity_en.csv", "MIT")
AILUMINATE = Source(
    "mlcommons/ailuminate",
    "769cc2be9d20c8d4fb26ce53b68865ed41dfb8e2",
    "airr_official_1.0_demo_en_us_prompt_set_release.csv",
    "CC BY 4.0 (prompt set; code Apache-2.0)",
)
HEALTHVER_DEV = Source(
    "sarrouti/HealthVer", "b20ac99ceed62f5264a319fa25a854df1668d85b", "data/healthver_dev.csv", "MIT"
)
HEALTHVER_TEST = Source(HEALTHVER_DEV.repo, HEALTHVER_DEV.commit, "data/healthver_test.csv", HEALTHVER_DEV.licence)
COVIDFACT = Source(
    "asaakyan/covidfact", "ceeb613cde5a6c19dea4f2c165654e510ff52b10", "COVIDFACT_dataset.jsonl", "MIT (repository)"
)
WICE = Source(
    "ryokamoi/wice",
    "ddeb6c183665e2a20c5f03c5aa07f03888b9870f",
    "code_and_resources/entailment_inputs/oracle_chunks/claim/test.jsonl",
    "CC BY-SA 4.0",
)
MQP = Source(
    "curai/medical-question-pair-dataset", "6c7f7fd7a53cedc6fec105c0c6cb78f2e9a82cd1", "mqp.csv", "CC BY 4.0 (README)"
)
# COVID-19 questions from search logs, FAQs and forums, grouped into classes that ask the same thing (one
# answer per class): the semantic cache's correctness criterion exactly.
COVID_Q = Source("JerryWei03/COVID-Q", "73dfa475e8a03c5c74223c2c37d85b87fae7dca7", "data/final_master_dataset.csv",
                 "GPL-3.0 (as the repository is listed; no licence file at this commit)")

# Benign writing, reasoning and coding requests written by other hands (injection's benign look-alikes).
SELF_INSTRUCT_USER = Source(
    "yizhongw/self-instruct", "0b26ccaa415992100fa32df62d41b994cf928e23",
    "human_eval/user_oriented_instructions.jsonl", "Apache-2.0",
)
WIZARDLM_TEST = Source(
    "nlpxucan/WizardLM", "cd4b4cc022b6426aee62d51f7ae99a4a6ec9aaef", "WizardLM/data/WizardLM_testset.jsonl",
    "CC BY-NC 4.0 (data); weights only, texts not committed",
)
MBPP_PLUS = Source(
    WIZARDLM_TEST.repo, WIZARDLM_TEST.commit, "WizardCoder/data/mbppplus.json",
    "CC BY-NC 4.0 (WizardCoder data licence; MBPP itself CC BY 4.0); weights only, texts not committed",
)
MT_BENCH = Source(
    "lm-sys/FastChat", "0e6d3e4beaab66f4d3f93db72541a4abab8af28d", "fastchat/llm_judge/data/mt_bench/question.jsonl",
    "Apache-2.0",
)
VICUNA_BENCH = Source(MT_BENCH.repo, MT_BENCH.commit, "fastchat/llm_judge/data/vicuna_bench/question.jsonl",
                      MT_BENCH.licence)

# Short assistant requests in 13 languages (human translations of the same English requests).
XSID = Source("mainlp/xsid", "761d926c3f2e9f6bea13192d2f39cec1d04d9777", "data/xSID-0.7", "CC BY-SA 4.0")
XSID_LANGUAGES = ("ar", "da", "de", "id", "it", "ja", "kk", "lt", "nl", "no", "sr", "tr", "zh")

# ../shared/data: development sets (their README names the upstream sources); read, never copied.
SHARED = {
    "injection": "injection/dev.jsonl",
    "toxicity": "toxicity/dev.jsonl",
    "paraphrase": "paraphrase/dev.jsonl",
}

ALL_SOURCES = (
    JAILBREAK_LLMS, TENSOR_TRUST_HIJACK, TENSOR_TRUST_EXTRACT, CLINC, BANKING77, ALPACA_SEED, HUMANEVAL,
    CODE_ALPACA, GSM8K, ENRON, SELF_INSTRUCT_USER, WIZARDLM_TEST, MBPP_PLUS, MT_BENCH, VICUNA_BENCH, XSID,
    DAVIDSON, HATECHECK, ETHOS, ETHOS_BINARY, SURGE, AILUMINATE, HEALTHVER_DEV, HEALTHVER_TEST, COVIDFACT, WICE, MQP,
    COVID_Q,
)  # fmt: skip
