"""Everything minisbert writes to disk or reads back as a folder: atomic writes, JSON, model folders.

Three rules hold for every save (a model, a cross-encoder, a trained model with its head, a training
checkpoint, a fetched folder):

* **A file is complete or absent.** It is written to a temporary file beside it, flushed to disk, and
  renamed over the target (``atomic_write``); a reader sees the old file or the new one, never half.
* **A folder is complete or absent.** Its files go into a hidden temporary folder beside it, every file
  and folder is flushed, and only then is it moved into place (``write_folder``): a plain rename for a
  new folder, one atomic exchange with the old folder where the OS offers one (Linux ``renameat2``),
  else two renames. A crash leaves the old folder or the new one, never a half-written folder that
  looks complete.
* **Nothing else is overwritten.** A non-empty folder is replaced only if it holds one of the files that
  mark what is being written (``config.json`` / ``modules.json`` for a model folder,
  ``trainer_state.json`` for a checkpoint); anything else is someone's files, and the save raises
  ``OverwriteRefusedError``.
* **A user's files are kept.** Replacing a folder replaces the files minisbert writes into such a folder
  (``MODEL_FOLDER_FILES`` for a model folder: the weights, the configs, the tokenizer, the head, the
  sentence-transformers module folders) and keeps every other file and folder in it (notes, evaluation
  results, a README), as transformers' ``save_pretrained`` leaves other files alone. The kept files are
  hard-linked (or copied) into the staging folder, so the swap that publishes the new folder is still
  one step.

Staging folders are named ``.NAME.XXXXXXXX.tmp`` beside the target ``NAME`` (``.NAME.XXXXXXXX.old`` for
an old folder moved aside). A process killed during a write leaves one behind; ``remove_stale_staging``
removes those of one target (by that name pattern only), and every ``write_folder`` calls it first.
SIGTERM is turned into an exception by the command line (``minisbert/__main__.py``), so a terminated
write removes its own staging folder as an interrupted one does.

The second half of the module is the sentence-transformers folder layout (``modules.json`` listing
Transformer → Pooling [→ Normalize] for a bi-encoder, Transformer alone for a cross-encoder): what
``SentenceBert`` and ``CrossEncoder`` write besides BERT's ``config.json`` and ``model.safetensors``,
and what ``SentenceBert.from_pretrained`` reads.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable

from ..checks import is_number
from ..pooling import POOLING_MODES

# A non-empty folder holding one of these is a model folder that a save may replace.
MODEL_FOLDER_MARKERS = ("modules.json", "config.json")
# What minisbert writes into a model folder (a top-level name; a folder covers everything under it). When
# a model folder is replaced, these are replaced and every other file in it is kept.
MODEL_FOLDER_FILES = (
    "config.json", "model.safetensors", "vocab.txt", "tokenizer.json", "tokenizer_config.json",
    "special_tokens_map.json", "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
    "1_Pooling", "2_Normalize", "head.safetensors", "head.json", "pretrain_log.json",
)


class OverwriteRefusedError(FileExistsError, ValueError):
    """A save would have replaced a path that is not what it writes (a file, or a folder of other files).

    A ``FileExistsError`` (the path exists) and a ``ValueError`` (the destination argument is wrong).
    """


# ----------------------------------------------------------------------------------------------------
# Files


def atomic_write(path: str | Path, write: Callable[[str], object]) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``: readers see the old file or the new, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private to its owner
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text(path: str | Path, text: str) -> None:
    """A UTF-8 text file, written atomically."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_json(path: str | Path, obj, indent: int | None = 2) -> None:
    """A JSON file, indented (``indent=None``: one line, for large machine-only files), written atomically."""
    write_text(path, json.dumps(obj, indent=indent) + "\n")


def read_json(path: str | Path, error: type[ValueError] = ValueError):
    """A JSON file of a model folder or checkpoint (config.json, tokenizer_config.json, ...), parsed.

    A file that is not JSON raises ``error`` naming the file, not json's bare "Expecting value: line 1
    column 1". Whether the file must exist is the caller's to say (its message names what is missing).
    """
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise error(f"{path} is not valid JSON: {e}") from None


def read_folder_json(path: str | Path):
    """A JSON file that a model folder must hold: FileNotFoundError naming it when it is missing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model folder file not found: {path}")
    return read_json(path)


# ----------------------------------------------------------------------------------------------------
# Folders


def check_replaceable(folder: str | Path, markers: tuple[str, ...] = MODEL_FOLDER_MARKERS,
                      what: str = "model folder") -> None:
    """Refuse (``OverwriteRefusedError``) to replace anything but a missing or empty folder, or one that
    holds one of ``markers``: a non-empty folder without them is someone's files."""
    folder = Path(folder)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise OverwriteRefusedError(f"{folder} exists and is not a folder")
    if any(folder.iterdir()) and not any((folder / marker).is_file() for marker in markers):
        raise OverwriteRefusedError(f"{folder} is a non-empty folder that is not a {what}; not replacing it")


def check_writable(folder: str | Path, markers: tuple[str, ...] = MODEL_FOLDER_MARKERS,
                   what: str = "model folder", name: str = "out") -> Path:
    """Everything that can be known before a long run about writing ``folder`` later: it is replaceable
    (``check_replaceable``) and the nearest existing folder above it accepts a new folder (the staging
    folder is made there: one is made and removed to find out). ``PermissionError`` naming ``name``
    otherwise. Returns ``folder`` as a ``Path``."""
    folder = Path(folder)
    check_replaceable(folder, markers, what)
    parent = folder.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(f"{name}: cannot write {folder}: {parent} is a file, not a folder")
    try:  # what write_folder will do there (a check of the mode bits would miss read-only file systems, root)
        probe = tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=parent)
    except OSError as e:
        raise PermissionError(f"{name}: cannot write {folder}: the folder {parent} does not accept new files "
                              f"({e.strerror or e})") from None
    shutil.rmtree(probe, ignore_errors=True)  # (another process may have removed it as stale already)
    return folder


def staging_pattern(target: str | Path) -> re.Pattern:
    """The names of the staging folders (and files) that ``write_folder``/``atomic_write`` make for
    ``target``: ``.NAME.`` + mkdtemp's 8 random characters + ``.tmp`` (or ``.old``, a folder moved aside)."""
    return re.compile(rf"\.{re.escape(Path(target).name)}\.[A-Za-z0-9_]{{8}}\.(tmp|old)")


def remove_stale_staging(target: str | Path) -> list[Path]:
    """Remove what an earlier, killed write of ``target`` left beside it (its hidden staging folders, by
    their name pattern alone: nothing else is touched); returns what was removed."""
    target = Path(target)
    parent = target.parent
    if not parent.is_dir():
        return []
    pattern = staging_pattern(target)
    removed = []
    for path in parent.iterdir():
        if pattern.fullmatch(path.name):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def write_folder(folder: str | Path, fill: Callable[[Path], object],
                 markers: tuple[str, ...] = MODEL_FOLDER_MARKERS, what: str = "model folder",
                 owned: tuple[str, ...] | None = None) -> None:
    """Make ``folder`` hold what ``fill(staging)`` writes into an empty staging folder, atomically.

    The staging folder is a hidden folder beside ``folder`` (the same file system, so the final move is
    a rename); it is flushed to disk and then swapped into place. If ``fill`` raises (or the process is
    interrupted), the staging folder is removed and ``folder`` is left as it was. See
    ``check_replaceable`` for what may be replaced. ``owned``: the top-level names minisbert writes into
    such a folder (default ``MODEL_FOLDER_FILES`` for a model folder, else ``markers``); when an existing
    folder is replaced, every other file in it is carried over into the new one.
    """
    target = Path(folder)
    check_replaceable(target, markers, what)
    if owned is None:
        owned = MODEL_FOLDER_FILES if tuple(markers) == MODEL_FOLDER_MARKERS else tuple(markers)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        fill(staging)
        kept = keep_user_files(target, staging, owned) if target.is_dir() else []
        _finish_tree(staging, skip=set(kept))
        _replace_dir(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def keep_user_files(old: Path, new: Path, owned: tuple[str, ...]) -> list[str]:
    """Carry every file of the folder ``old`` that minisbert does not own (``owned``: top-level names) and
    that ``new`` does not hold into ``new``: hard links where the file system allows, else copies.
    Returns the relative paths carried over."""
    kept = []
    for dirpath, dirnames, filenames in os.walk(old):
        relative_dir = Path(dirpath).relative_to(old)
        if relative_dir == Path("."):
            dirnames[:] = [d for d in dirnames if d not in owned]
            filenames = [f for f in filenames if f not in owned]
        for name in filenames:
            relative = relative_dir / name
            source, dest = old / relative, new / relative
            if dest.exists() or dest.is_symlink():
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            if source.is_symlink():
                os.symlink(os.readlink(source), dest)
            else:
                try:
                    os.link(source, dest)
                except OSError:
                    shutil.copy2(source, dest)
            kept.append(str(relative))
        for name in dirnames:  # empty folders are the user's too
            (new / relative_dir / name).mkdir(parents=True, exist_ok=True)
    return kept


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _finish_tree(root: Path, skip: set[str] = frozenset()) -> None:
    """Give the staged files ordinary permissions (mkdtemp/mkstemp make them private to the owner) and
    flush every file and folder under ``root`` to disk, so that the rename which publishes it comes last."""
    umask = _umask()
    for dirpath, _, filenames in os.walk(root):
        os.chmod(dirpath, 0o777 & ~umask)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.relpath(path, root) in skip:  # a user's file carried over: its mode stays the user's
                if os.path.islink(path):
                    continue
            else:
                os.chmod(path, 0o666 & ~umask)
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        fd = os.open(dirpath, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _replace_dir(new: Path, target: Path) -> None:
    """Move folder ``new`` to ``target``, replacing an existing ``target``.

    A missing target is a plain rename (atomic). An existing one is swapped in one step with Linux's
    renameat2(RENAME_EXCHANGE), then the old contents are deleted; where that is not available, the old
    folder is first renamed aside, so a crash between the two renames leaves it intact beside the target.
    """
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        shutil.rmtree(new)  # `new` now holds the old folder
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    os.rmdir(aside)
    os.rename(target, aside)
    os.rename(new, target)
    shutil.rmtree(aside, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE); False where the OS cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # no libc, or glibc < 2.28
        return False
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.ENOTSUP):  # file system without exchange
        return False
    raise OSError(err, os.strerror(err), str(b))


# ----------------------------------------------------------------------------------------------------
# The sentence-transformers folder layout

# What a model folder's modules.json may list, by the last part of the class path (sentence-transformers
# 2.x-5.x write ``sentence_transformers.models.Pooling``, 6.x ``sentence_transformers.sentence_transformer.
# modules.pooling.Pooling``); the names 6.2 writes are the ones minisbert writes.
ST_TRANSFORMER = "sentence_transformers.base.modules.transformer.Transformer"
ST_POOLING = "sentence_transformers.sentence_transformer.modules.pooling.Pooling"
ST_NORMALIZE = "sentence_transformers.base.modules.normalize.Normalize"
# What a cross-encoder's predict applies to the logits, named as sentence-transformers' folder names it.
ST_SIGMOID = "torch.nn.modules.activation.Sigmoid"
ST_IDENTITY = "torch.nn.modules.linear.Identity"

# sentence-transformers' legacy 1_Pooling/config.json: one boolean per mode.
LEGACY_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}


def write_st_bi_encoder_files(path: Path, *, dim: int, pooling: str, normalize: bool, max_seq_length: int) -> None:
    """The files that make a BERT folder a sentence-transformers ``SentenceTransformer`` folder::

        sentence_bert_config.json           {"max_seq_length": ..., "do_lower_case": false}
        modules.json                        Transformer (path "") → Pooling (1_Pooling) [→ Normalize]
        1_Pooling/config.json               {"embedding_dimension": H, "pooling_mode": "mean", ...}
        2_Normalize/config.json             only when normalize
        config_sentence_transformers.json   model type and similarity function
    """
    path = Path(path)
    write_json(path / "sentence_bert_config.json", {"max_seq_length": max_seq_length, "do_lower_case": False})
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": ST_TRANSFORMER},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": ST_POOLING},
    ]
    write_json(path / "1_Pooling" / "config.json",
               {"embedding_dimension": dim, "pooling_mode": pooling, "include_prompt": True})
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": ST_NORMALIZE})
        write_json(path / "2_Normalize" / "config.json",
                   {"module_input_name": "sentence_embedding", "module_output_name": "sentence_embedding"})
    write_json(path / "modules.json", modules)
    write_json(path / "config_sentence_transformers.json", {
        "model_type": "SentenceTransformer",
        "prompts": {},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    })


def write_st_cross_encoder_files(path: Path, *, num_labels: int) -> None:
    """The files that make a ``BertForSequenceClassification`` folder a sentence-transformers 6.x
    ``CrossEncoder`` folder: modules.json (Transformer alone), sentence_bert_config.json (the logits are
    the scores) and config_sentence_transformers.json (a sigmoid on one output, none on k)."""
    path = Path(path)
    write_json(path / "modules.json", [{"idx": 0, "name": "0", "path": "", "type": ST_TRANSFORMER}])
    write_json(path / "sentence_bert_config.json", {
        "transformer_task": "sequence-classification",
        "modality_config": {"text": {"method": "forward", "method_output_name": "logits"}},
        "module_output_name": "scores",
    })
    write_json(path / "config_sentence_transformers.json", {
        "model_type": "CrossEncoder",
        "activation_fn": ST_SIGMOID if num_labels == 1 else ST_IDENTITY,
        "prompts": {},
        "default_prompt_name": None,
    })


def read_st_folder(folder: str | Path) -> dict:
    """What ``SentenceBert.from_pretrained`` needs from a folder: {bert_folder, pooling, dimension,
    normalize, max_seq_length}. A plain BERT folder (no modules.json) gives mean pooling, no
    normalisation.

    Modules other than Transformer → Pooling → Normalize (a Dense projection, say) are refused rather
    than skipped: skipping one would silently give different vectors.
    """
    folder = Path(folder)
    spec = {"bert_folder": folder, "pooling": "mean", "dimension": None, "normalize": False, "max_seq_length": None}
    modules_path = folder / "modules.json"
    if modules_path.is_file():
        modules = read_folder_json(modules_path)
        if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
            raise ValueError(f"{modules_path}: expected a list of modules")
        modules = sorted(modules, key=lambda m: m.get("idx", 0))
        kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
        if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            raise ValueError(
                f"{modules_path}: modules {kinds} are not supported; minisbert reads Transformer → Pooling "
                f"[→ Normalize]"
            )
        by_kind = dict(zip(kinds, modules))
        spec["bert_folder"] = folder / by_kind["Transformer"].get("path", "")
        spec["normalize"] = "Normalize" in by_kind
        pooling_config = read_folder_json(folder / by_kind["Pooling"].get("path", "") / "config.json")
        spec["pooling"], spec["dimension"] = _pooling_from_config(pooling_config, folder)

    # The maximum length: sentence_bert_config.json (what sentence-transformers itself reads first),
    # then the tokenizer's model_max_length (where sentence-transformers 6.x also keeps it).
    sbert_config_path = spec["bert_folder"] / "sentence_bert_config.json"
    sbert_config = read_folder_json(sbert_config_path) if sbert_config_path.is_file() else {}
    if sbert_config.get("do_lower_case"):
        raise ValueError(f"{sbert_config_path}: do_lower_case=true (lower-casing before the tokenizer) is not supported")
    tok_config_path = spec["bert_folder"] / "tokenizer_config.json"
    tok_config = read_folder_json(tok_config_path) if tok_config_path.is_file() else {}
    for value in (sbert_config.get("max_seq_length"), tok_config.get("model_max_length")):
        if is_number(value) and value >= 2:
            spec["max_seq_length"] = int(min(value, 1 << 30))
            break
    return spec


def _pooling_from_config(config: dict, folder: Path) -> tuple[str, int | None]:
    """(mode, dimension) from a 1_Pooling/config.json in either of its two forms."""
    dimension = config.get("embedding_dimension", config.get("word_embedding_dimension"))
    if "pooling_mode" in config:  # sentence-transformers ≥ 5: "mean", or a list of modes to concatenate
        modes = config["pooling_mode"]
        modes = [modes] if isinstance(modes, str) else list(modes)
    else:  # legacy: one boolean per mode; none set means mean (as sentence-transformers reads it)
        modes = [mode for key, mode in LEGACY_POOLING_KEYS.items() if config.get(key)] or ["mean"]
    if len(modes) != 1 or modes[0] not in POOLING_MODES:
        raise ValueError(
            f"{folder}: pooling {modes} is not supported; minisbert pools with one of {', '.join(POOLING_MODES)}"
        )
    return modes[0], dimension
