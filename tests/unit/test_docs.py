"""Generated docs (README model table, docs/cli.md, docs/configuration.md) match the code; links resolve."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from mlfactory.docs import END, START, cli_markdown, configuration_markdown, main, models_markdown
from mlfactory.models.registry import all_models

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def test_readme_models_section_matches_the_registry() -> None:
    assert main(["--check", str(README)]) == 0, "run: python -m mlfactory.docs --write"


@pytest.mark.parametrize("name", ["cli.md", "configuration.md", "python-api.md"])
def test_generated_docs_match_the_code(name: str) -> None:
    assert main(["--check", str(DOCS / name)]) == 0, "run: python -m mlfactory.docs --write"


def test_generated_table_lists_every_registered_model_once() -> None:
    table = models_markdown()
    names = list(all_models())
    assert table.startswith(f"{len(names)} registered models")
    for name in names:
        assert table.count(f"| `{name}` |") == 1


def test_a_stale_table_is_detected(tmp_path: Path) -> None:
    stale = tmp_path / "README.md"
    stale.write_text(f"# x\n{START}\n13 registered models\n{END}\n")
    assert main(["--check", str(stale)]) == 1
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "cli.md").write_text(cli_markdown().replace("--seed", "--sead"))
    assert main(["--check", str(docs / "cli.md")]) == 1


def test_cli_reference_lists_every_command_and_option() -> None:
    import typer

    from mlfactory.cli.app import app

    text = cli_markdown()
    root = typer.main.get_command(app)
    for name, cmd in root.commands.items():  # type: ignore[attr-defined]
        subs = cmd.commands.items() if hasattr(cmd, "commands") else [(None, cmd)]
        for sub, leaf in subs:
            assert f"## `mlfactory {name}{' ' + sub if sub else ''}`" in text
            for p in leaf.params:
                for opt in getattr(p, "opts", []):
                    if opt.startswith("--"):
                        assert f"`{opt}`" in text


def test_configuration_lists_every_pipeline_key_and_model_params() -> None:
    from mlfactory.config import PipelineConfig

    text = configuration_markdown()
    for section in PipelineConfig.model_fields:
        assert f"`{section}" in text, section
    for name, cls in all_models().items():
        assert f"### `{name}`" in text
        for key in cls.Params.model_fields:
            assert f"| `{key}` |" in text


def test_readme_points_to_docs_in_the_repository() -> None:
    text = README.read_text()
    assert "DESIGN.md" not in text
    for target in re.findall(r"\]\((docs/[^)]+)\)", text):
        assert (ROOT / target).exists(), target


def test_links_between_docs_resolve() -> None:
    for doc in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+\.md)\)", doc.read_text()):
            assert (doc.parent / target).is_file(), f"{doc.name} links to missing {target}"


def test_python_api_names_exist() -> None:
    text = (DOCS / "python-api.md").read_text()
    for module, names in re.findall(r"from (mlfactory[\w.]*) import ([\w, ]+)", text):
        mod = importlib.import_module(module)
        for name in names.split(","):
            assert hasattr(mod, name.strip()), f"docs/python-api.md: {module}.{name.strip()} does not exist"
