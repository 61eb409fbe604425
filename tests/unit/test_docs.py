"""The README's model table is generated from the registry; this fails when they disagree."""

from pathlib import Path

from mlfactory.docs import END, START, main, models_markdown
from mlfactory.models.registry import all_models

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_models_section_matches_the_registry() -> None:
    assert main(["--check", str(README)]) == 0, "run: python -m mlfactory.docs --write README.md"


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
