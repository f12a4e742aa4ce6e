"""Filling the template (docxtpl) and converting it to PDF (LibreOffice headless).

- :func:`open_template` checks a template before anything is computed: a file that is not a Word document,
  Jinja syntax errors, fields the report does not know, required fields it lacks — each a Chinese
  :class:`InputError` listing them.
- :func:`check_fields` checks every ``a.b`` and loop-variable field against the built context.
- :func:`render_docx` fills it (autoescaped, strict: a field that cannot be filled is an error, never an empty
  string) and returns the document's bytes.
- :func:`to_pdf` runs ``soffice --headless --convert-to pdf`` in a private profile directory with a timeout.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import tempfile
import zipfile
from pathlib import Path

from docx import Document
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml import parse_xml
from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage
from jinja2 import Environment, StrictUndefined, TemplateSyntaxError, UndefinedError, meta, nodes

from geo_service.core._errors import GeoServiceError, InputError

from .context import FIELDS, MAPS, REQUIRED

PDF_TIMEOUT_S = 180.0
MAP_WIDTH_MM = 160


class ReportToolError(GeoServiceError):
    """A tool the report needs (LibreOffice) is missing or failed; nothing was written."""

    http_status = 503


def _bad_template(path: Path, why: str, why_zh: str) -> InputError:
    return InputError(f"report template {path.name}: {why}", f"报告模板「{path.name}」{why_zh}，未生成任何文件")


def template_xml(path: Path) -> str:
    """The template's Jinja source as docxtpl sees it: body, headers and footers (runs merged, tags patched)."""
    tpl = DocxTemplate(path)
    doc = Document(path)
    xml = tpl.patch_xml(tpl.xml_to_string(doc._element.body))
    for rel in doc.part.rels.values():
        if rel.reltype in (tpl.HEADER_URI, tpl.FOOTER_URI) and rel.target_part.blob:
            xml += tpl.patch_xml(tpl.xml_to_string(parse_xml(rel.target_part.blob)))
    return xml


def open_template(path: Path) -> tuple[DocxTemplate, nodes.Template]:
    """The template and its parsed Jinja tree; :class:`InputError` when it cannot serve as the report's template."""
    try:
        xml = template_xml(path)
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise _bad_template(path, f"is not a Word document ({exc})", "不是有效的 Word 文档（.docx）") from None
    env = Environment()
    try:
        tree = env.parse(xml)
    except TemplateSyntaxError as exc:
        raise _bad_template(
            path,
            f"template syntax error: {exc.message}",
            f"字段语法错误：{exc.message}（请检查 {{{{ }}}} 与 {{% %}} 是否成对）",
        ) from None
    used = meta.find_undeclared_variables(tree)
    unknown = sorted(used - set(FIELDS))
    missing = [f for f in REQUIRED if f not in used]
    if unknown or missing:
        parts, parts_zh = [], []
        if unknown:
            parts.append(f"unknown fields {unknown}")
            parts_zh.append(f"有未知字段：{'、'.join(unknown)}")
        if missing:
            parts.append(f"missing required fields {missing}")
            parts_zh.append(f"缺少必需字段：{'、'.join(missing)}")
        parts_zh.append(f"可用字段：{'、'.join(FIELDS)}")
        raise _bad_template(path, "; ".join(parts), "；".join(parts_zh))
    return DocxTemplate(path), tree


def _path_of(node) -> tuple[str, list[str]] | None:
    """``(root name, [attr, ...])`` of a ``a.b.c`` or ``a['b']`` chain, else None."""
    attrs = []
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            attrs.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            attrs.append(node.arg.value)
        else:
            return None
        node = node.node
    return (node.name, attrs[::-1]) if isinstance(node, nodes.Name) else None


def _walk(node, scope: dict, bad: list[str]) -> None:
    if isinstance(node, nodes.For):
        _walk(node.iter, scope, bad)
        items = _resolve(node.iter, scope, [])
        inner = dict(scope)
        if isinstance(node.target, nodes.Name):
            inner[node.target.name] = items[0] if isinstance(items, list) and items else None
        for child in node.body + node.else_:
            _walk(child, inner, bad)
        return
    if isinstance(node, (nodes.Getattr, nodes.Getitem)) and _path_of(node) is not None:
        _resolve(node, scope, bad)
        return
    for child in node.iter_child_nodes():
        _walk(child, scope, bad)


def _resolve(node, scope: dict, bad: list[str]):
    """The context value at a field chain (None when unknown), noting fields the context lacks in ``bad``."""
    p = _path_of(node)
    if p is None or p[0] not in scope:
        return None
    value = scope[p[0]]
    for i, attr in enumerate(p[1]):
        if value is None:
            return None
        if not isinstance(value, dict) or attr not in value:
            if isinstance(value, dict):
                bad.append(".".join([p[0], *p[1][: i + 1]]))
            return None
        value = value[attr]
    return value


def check_fields(path: Path, tree: nodes.Template, context: dict) -> None:
    """Every ``a.b`` field (and every field of a loop's items) of the template must exist in ``context``."""
    bad: list[str] = []
    scope = {k: ({**v, "map": b""} if k in MAPS and isinstance(v, dict) else v) for k, v in context.items()}
    _walk(tree, scope, bad)
    if bad:
        names = sorted(set(bad))
        raise _bad_template(path, f"unknown fields {names}", f"有未知字段：{'、'.join(names)}")


def render_docx(tpl: DocxTemplate, path: Path, context: dict, maps: dict[str, bytes]) -> bytes:
    """The filled document's bytes; chapter maps become inline images :data:`MAP_WIDTH_MM` wide."""
    ctx = {k: (dict(v) if isinstance(v, dict) else v) for k, v in context.items()}
    for key in MAPS:
        if key in maps and isinstance(ctx.get(key), dict):
            ctx[key]["map"] = InlineImage(tpl, io.BytesIO(maps[key]), width=Mm(MAP_WIDTH_MM))
    env = Environment(undefined=StrictUndefined)
    try:
        tpl.render(ctx, jinja_env=env, autoescape=True)
    except UndefinedError as exc:
        raise _bad_template(path, f"a field cannot be filled: {exc}", f"有无法填写的字段：{exc}") from None
    except TemplateSyntaxError as exc:
        raise _bad_template(path, f"template syntax error: {exc.message}", f"字段语法错误：{exc.message}") from None
    buf = io.BytesIO()
    tpl.save(buf)
    return buf.getvalue()


def soffice_path() -> str | None:
    """LibreOffice's command (``soffice`` or ``libreoffice`` on PATH), else None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def require_soffice(soffice: str | None = None) -> str:
    """LibreOffice's command; :class:`ReportToolError` (Chinese, how to install it) when it is absent."""
    exe = soffice or soffice_path()
    if not exe or (not Path(exe).exists() and shutil.which(exe) is None):
        raise ReportToolError(
            "LibreOffice (soffice) is not installed; PDF output needs it",
            "未安装 LibreOffice（soffice），无法生成 PDF：请安装 libreoffice-writer-nogui（Debian/Ubuntu："
            "apt-get install libreoffice-writer-nogui），或只生成 Word 文档",
        )
    return exe


def to_pdf(docx: bytes, *, soffice: str | None = None, timeout_s: float = PDF_TIMEOUT_S) -> bytes:
    """The PDF of a Word document, converted by LibreOffice headless in a private profile; :class:`ReportToolError`
    when LibreOffice is absent, fails or takes longer than ``timeout_s`` (its process group is killed)."""
    exe = require_soffice(soffice)
    with tempfile.TemporaryDirectory(prefix="geo_report_") as tmp:
        t = Path(tmp)
        src = t / "report.docx"
        src.write_bytes(docx)
        cmd = [exe, "--headless", "--norestore", "--nologo", "--nolockcheck"]
        cmd += [
            f"-env:UserInstallation={(t / 'profile').as_uri()}",
            "--convert-to",
            "pdf",
            "--outdir",
            str(t),
            str(src),
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            _, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise ReportToolError(
                f"LibreOffice did not finish the PDF within {timeout_s:.0f} s",
                f"LibreOffice 在 {timeout_s:.0f} 秒内未完成 PDF 转换，已中止；未生成任何文件",
            ) from None
        pdf = t / "report.pdf"
        if proc.returncode != 0 or not pdf.is_file():
            msg = err.decode(errors="replace").strip()[-300:]
            raise ReportToolError(
                f"LibreOffice failed to convert the report (exit {proc.returncode}): {msg}",
                f"LibreOffice 转换 PDF 失败（退出码 {proc.returncode}）；未生成任何文件",
            )
        return pdf.read_bytes()


def write_atomic(files: dict[Path, bytes]) -> list[Path]:
    """Write every file or none: each goes to a temporary file beside it, then all are renamed into place."""
    temps: list[tuple[Path, Path]] = []
    umask = os.umask(0o022)  # mkstemp makes 0600 files: give them the mode a plain open() would
    os.umask(umask)
    try:
        for path, data in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                os.fchmod(fh.fileno(), 0o666 & ~umask)
            temps.append((Path(tmp), path))
    except OSError as exc:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write the report: {exc}", f"无法写出报告文件：{exc}") from None
    for tmp, path in temps:
        os.replace(tmp, path)
    return [p for _, p in temps]
