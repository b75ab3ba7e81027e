"""``hpogrid dataset upload|list|download``: a project's Rucio datasets (inputs and outputs)."""
import click

from hpogrid.cli._base import echo_json, echo_table

_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


@click.group("dataset")
def dataset() -> None:
    """Rucio datasets of projects: upload the input, list, download the output.

    Uses rucio-clients with Rucio's own configuration: the client config in $RUCIO_CONFIG
    (else $RUCIO_HOME/etc/rucio.cfg), the account ([client] account or $RUCIO_ACCOUNT) and
    its authentication (auth_type, e.g. userpass, x509_proxy, oidc; or $RUCIO_AUTH_TYPE).
    """


@dataset.command("upload")
@click.argument("project")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--rse", metavar="RSE", help="Rucio storage element to upload to, e.g. "
              "CERN-PROD_SCRATCHDISK (default: $HPOGRID_RSE).")
@click.option("--name", metavar="DID", help="Dataset name, or SCOPE:NAME (default: "
              "user.<account>.hpogrid.<PROJECT>.in in scope user.<account>).")
@_json_option
def upload(project: str, paths, rse, name, as_json) -> None:
    """Upload files (PATH: files or folders) into a dataset and make it PROJECT's inDS.

    Folders are uploaded with every file below them; the dataset is flat, so file names
    must be unique. Uploading again adds new files and keeps those already there; a file
    whose name is taken in Rucio by other content is refused before anything is sent.
    On success the dataset is recorded as grid_config.inDS of the project, so grid jobs
    find it in their working directory.

    \b
    Example:
      hpogrid dataset upload mnist data/mnist.npz --rse CERN-PROD_SCRATCHDISK
    """
    from hpogrid.grid import rucio

    result = rucio.upload(project, paths, rse=rse, name=name)
    if as_json:
        echo_json({"did": result.did, "inDS": result.in_ds, "files": result.files,
                   "dataset_files": result.dataset_files, "dataset_bytes": result.dataset_bytes})
        return
    echo_table([[f["name"], f["bytes"], f["adler32"], f["status"]] for f in result.files],
               ["file", "bytes", "adler32", "status"])
    click.echo(f"Dataset {result.did} holds {result.dataset_files} file(s), {result.dataset_bytes} bytes; "
               f"recorded as inDS {result.in_ds!r} of project {project!r}.")


@dataset.command("list")
@click.option("--project", metavar="PROJECT", help="Only this project's datasets (its inDS and "
              "user.<account>.hpogrid.PROJECT.*).")
@_json_option
def list_(project, as_json) -> None:
    """List your hpogrid datasets in Rucio (user.<account>.hpogrid.*), newest first.

    Output datasets of grid tasks (outDS) appear here once PanDA has created them.
    """
    from hpogrid.grid import rucio

    rows = rucio.list_datasets(project)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No datasets found" + (f" for project {project!r}." if project else "."))
        return
    echo_table([[r["did"], r["type"], r["files"], r["bytes"], r["created"]] for r in rows],
               ["did", "type", "files", "bytes", "created"], width=100)


@dataset.command("download")
@click.argument("did", metavar="DID")
@click.option("--dir", "dest", default=".", show_default=True, metavar="DIR",
              help="Folder to download into; files go to DIR/<dataset name>/.")
@_json_option
def download(did, dest, as_json) -> None:
    """Download the files of a dataset or container (DID: NAME or SCOPE:NAME).

    Typically the output (outDS) of a finished grid task; see 'hpogrid dataset list'.
    Checksums (adler32/md5) are verified; files already downloaded are not fetched again.
    """
    from hpogrid.grid import rucio

    paths = rucio.download(did, dest)
    if as_json:
        echo_json([str(p) for p in paths])
        return
    for path in paths:
        click.echo(str(path))
    click.echo(f"Downloaded {len(paths)} file(s) of {did}.", err=True)
