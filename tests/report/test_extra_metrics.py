"""hpo_config extra_metrics: shown next to the metric by report (table and HTML page) and by
local_run's final table; one not recorded by any trial is a note, not an error."""
from hpogrid.configs import NamedStore


def test_extra_metrics_stand_next_to_the_metric_in_the_table_and_the_page(known, report_cli, tmp_path):
    hpo = NamedStore("hpo_config")
    hpo.update(known.name, {"extra_metrics": ["accuracy", "f1"]})
    from hpogrid.project import update_project

    update_project(known.name)
    r = report_cli(known.name, "--no-sync", "--to_html", "--outdir", tmp_path, "--outname", "page")
    assert r.exit_code == 0, r.output
    header = next(line for line in r.output.splitlines() if line.lstrip().startswith("trial"))
    assert header.split()[:4] == ["trial", "state", "loss", "accuracy"]
    row = next(line for line in r.output.splitlines() if line.split()[:1] == ["5"])  # g2: loss 0.1, acc 0.95
    assert row.split()[2:4] == ["0.1", "0.95"]
    assert "Note: extra_metrics not recorded by any trial: f1 (recorded: loss, accuracy)" in r.output
    page = (tmp_path / "page.html").read_text()
    heads = page[page.index('<table class="sortable" id="trials">'):].split("</thead>")[0]
    assert heads.index("<th>loss</th>") < heads.index("<th>accuracy</th>") < heads.index("<th>lr</th>")
