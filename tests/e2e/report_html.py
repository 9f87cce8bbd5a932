# SPDX-License-Identifier: Apache-2.0
"""Checks of nxpatch's HTML reports in headless Chromium (tests/e2e/cdp.py).

  report_html.py check DIR VERSION_LINE HOSTILE_PATH
      DIR holds {scan,plan,verify}.html and the same runs' .json documents
      (tests/e2e/report_html.sh).
  report_html.py big DIR
      DIR holds big.html and big.json, a run over 10,000 images
      (tests/e2e/report_html_10k.sh).

Screenshots go to $NXP_BINARY_DIR/artifacts/html/ (kept for people to look at)."""
import json
import os
import pathlib
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402

FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


def escaped(b):
    """A name as nxpatch shows it (src/util/escape.h): control characters, the
    backslash, C1 controls and bytes that are not UTF-8 become \\xNN."""
    out = []
    for ch in b.decode("utf-8", "surrogateescape"):
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:
            out.append("\\x%02x" % (o - 0xDC00))
        elif o < 0x20 or o == 0x7F or ch == "\\" or 0x80 <= o <= 0x9F:
            out.extend("\\x%02x" % c for c in ch.encode())
        else:
            out.append(ch)
    return "".join(out)


def artifacts():
    d = pathlib.Path(os.environ.get("NXP_BINARY_DIR", "/tmp")) / "artifacts" / "html"
    d.mkdir(parents=True, exist_ok=True)
    return d


def expected_class(cmd, f):
    st = f.get("plan") or f.get("status")
    if st == "error":
        return "failed"
    if cmd == "scan":
        return "scanned"
    if cmd == "plan":
        return {"changes": "changed", "nothing_to_do": "unchanged", "refused": "refused"}[st]
    return "compliant" if f.get("compliant") else "noncompliant"


JS_ROWS = "Array.from(document.querySelectorAll('#rows article.img'))"


def visible(p):
    return p.eval(JS_ROWS + ".map(a => [a.dataset['class'], a.querySelector('.path').textContent])")


def set_select(p, sel_id, value):
    p.eval("(function(){var s=document.getElementById(%s); s.value=%s;"
           "s.dispatchEvent(new Event('change'));})()" % (json.dumps(sel_id), json.dumps(value)))


def set_text(p, value):
    p.eval("(function(){var s=document.getElementById('f-text'); s.value=%s;"
           "s.dispatchEvent(new Event('input'));})()" % json.dumps(value))
    p.wait("document.body.dataset.shown !== undefined && "
           "new URLSearchParams(location.search).get('q') === %s" % json.dumps(value or None)
           if value else "!new URLSearchParams(location.search).has('q')")


def click(p, selector):
    p.eval("document.querySelector(%s).click()" % json.dumps(selector))


def shots(b, url, name, problems_ok=False):
    """Screenshots at a desktop and a phone width; the phone layout must not
    scroll sideways."""
    d = artifacts()
    for w, h, mobile in ((1280, 900, False), (390, 844, True)):
        p = b.page(w, h, mobile)
        p.open(url)
        data = p.screenshot(str(d / ("%s-%d.png" % (name, w))))
        pw, ph = cdp.png_size(data)
        check(pw == w and ph >= 300, "%s: %d px screenshot is %dx%d" % (name, w, pw, ph))
        sw = p.eval("document.documentElement.scrollWidth")
        check(sw <= w, "%s: at %d px the page is %d px wide (scrolls sideways)" % (name, w, sw))
        check(problems_ok or not p.problems(), "%s: script problems: %s" % (name, p.problems()))


def check_report(b, T, cmd, version, hostile):
    html = pathlib.Path(T) / (cmd + ".html")
    J = json.load(open(pathlib.Path(T) / (cmd + ".json")))
    files, summary = J["files"], J["summary"]
    url = html.as_uri()
    p = b.page(1280, 900)
    p.open(url)
    check(not p.problems(), "%s: script errors, CSP violations or dialogs: %s" % (cmd, p.problems()))

    # The run: version, date (SOURCE_DATE_EPOCH), command, policy.
    t = lambda sel: p.eval("(function(){var e=document.querySelector(%s);"
                           "return e ? e.textContent : null;})()" % json.dumps(sel))
    check(t("#m-version") == version, "%s: version %r, want %r" % (cmd, t("#m-version"), version))
    check(t("#m-date") == "2023-11-14T22:13:20Z", "%s: date %r" % (cmd, t("#m-date")))
    check(t("#m-command") == cmd, "%s: command %r" % (cmd, t("#m-command")))
    check(t("#m-policy") == J.get("policy"), "%s: policy %r, want %r" % (cmd, t("#m-policy"),
                                                                          J.get("policy")))
    # The counts are the JSON summary's.
    for k, v in summary.items():
        if isinstance(v, int) and not isinstance(v, bool):
            got = t('#counts dd[data-key="%s"]' % k)
            check(got == str(v), "%s: count %s is %r, want %d" % (cmd, k, got, v))

    # Every image, in order, with its verdict.
    check(p.eval("document.body.dataset.rows") == str(len(files)),
          "%s: %s rows, want %d" % (cmd, p.eval("document.body.dataset.rows"), len(files)))
    rows = visible(p)
    want = [[expected_class(cmd, f), f["path"]] for f in files]
    check(rows == want, "%s: rows %s, want %s" % (cmd, rows, want))

    # Findings and reasons visible without clicking (innerText holds only what
    # is rendered: not the content of a closed <details>).
    text = p.eval("document.body.innerText")
    msgs = {}
    for f in files:
        for x in f.get("findings", []):
            msgs.setdefault((x["id"], x["message"]), set()).add(f["path"])
            check(x["message"] in text, "%s: finding not visible: %s" % (cmd, x["message"]))
        if f.get("error"):
            check(f["error"] in text, "%s: error not visible: %s" % (cmd, f["error"]))
    refusals = [x["message"] for f in files for x in f.get("findings", [])
                if x["verdict"] == "refused"]
    if cmd in ("plan", "verify"):
        check(refusals, "%s: the samples give no refusal to look for" % cmd)
        check(any("would become writable and executable" in m for m in refusals),
              "%s: no W+X refusal among %s" % (cmd, refusals))
    # Identical reasons grouped: one group per (finding id, message).
    check(p.eval("document.body.dataset.groups") == str(len(msgs)),
          "%s: %s groups, want %d" % (cmd, p.eval("document.body.dataset.groups"), len(msgs)))
    groups = p.eval("Array.from(document.querySelectorAll('#groups li.group')).map("
                    "g => [g.querySelector('.fid').textContent, g.querySelector('.msg').textContent,"
                    " g.querySelector('.count').textContent])")
    check(len(groups) == min(10, len(msgs)), "%s: %d groups shown" % (cmd, len(groups)))
    for fid, msg, count in groups:
        n = len(msgs.get((fid, msg), ()))
        check(count == "%d image%s" % (n, "" if n == 1 else "s"),
              "%s: group %s %r says %r, want %d" % (cmd, fid, msg, count, n))
    if groups:
        check(groups[0][0].startswith("refused") if refusals else True,
              "%s: refusals are not listed first: %s" % (cmd, groups[0]))

    # Evidence is shown with its image.
    for f in files:
        ev = f.get("evidence") or []
        if ev:
            e = ev[0]
            line = "%s at 0x%x in %s" % (e["kind"], e["rva"], e["section"])
            art = p.eval(JS_ROWS + ".filter(a => a.querySelector('.path').textContent === %s)"
                         ".map(a => a.innerText).join('')" % json.dumps(f["path"]))
            check(line in art, "%s: %s: evidence %r not shown" % (cmd, f["path"], line))
    check(any(f.get("evidence") for f in files), "%s: no image with evidence" % cmd)

    # Filters: verdict, finding, text, reason group; reset; the URL keeps them.
    bad = {"scan": "failed", "plan": "refused", "verify": "noncompliant"}[cmd]
    n_bad = sum(1 for r in want if r[0] == bad)
    check(0 < n_bad < len(want), "%s: %d %s images of %d" % (cmd, n_bad, bad, len(want)))
    set_select(p, "f-class", bad)
    got = visible(p)
    check(len(got) == n_bad and all(r[0] == bad for r in got),
          "%s: verdict filter %s shows %s" % (cmd, bad, got))
    check(p.eval("location.search") == "?class=" + bad, "%s: URL %r" % (cmd, p.eval("location.search")))
    p2 = b.page(1280, 900)
    p2.open(url + "?class=" + bad)
    check(visible(p2) == got, "%s: ?class=%s shows %s, want %s" % (cmd, bad, visible(p2), got))
    click(p, "#f-reset")
    check(visible(p) == want, "%s: reset does not show every image" % cmd)

    ids = {}
    for f in files:
        for i in {x["id"] for x in f.get("findings", [])}:
            ids[i] = ids.get(i, 0) + 1
    if ids:
        fid = min(ids, key=lambda i: (ids[i], i))
        set_select(p, "f-finding", fid)
        got = visible(p)
        exp = [r for r, f in zip(want, files) if any(x["id"] == fid for x in f.get("findings", []))]
        check(got == exp, "%s: finding filter %s shows %s, want %s" % (cmd, fid, got, exp))
        set_select(p, "f-finding", "")

    set_text(p, "EV_CALL64")  # case-insensitive, on the path and messages
    got = visible(p)
    check(len(got) == 1 and got[0][1].endswith("/ev_call64.exe"), "%s: text filter shows %s" % (cmd, got))
    set_text(p, "no such text anywhere")
    check(visible(p) == [] and "no images match" in t("#shown"), "%s: %r" % (cmd, t("#shown")))
    set_text(p, "")
    check(visible(p) == want, "%s: clearing the text does not show every image" % cmd)

    if groups:
        fid, msg, _ = groups[0]
        click(p, "#groups li.group button.count")
        got = visible(p)
        check(len(got) == len(msgs[(fid, msg)]) and {r[1] for r in got} == msgs[(fid, msg)],
              "%s: reason group %r shows %s" % (cmd, msg, got))
        check(msg in t("#f-group-msg"), "%s: the reason filter is not shown" % cmd)
        click(p, "#f-group-clear")
        check(visible(p) == want, "%s: clearing the reason does not show every image" % cmd)

    # The hostile name is text: nothing in it became an element or ran.
    hp = escaped(os.fsencode(hostile))
    check(any(r[1] == hp for r in visible(p)), "%s: hostile name %r not shown as text" % (cmd, hp))
    check("<!--<script>" in hp and "</script>" in hp and "\\xff" in hp, "hostile name %r" % hp)
    check(p.eval("document.scripts.length") == 2, "%s: %d script elements" % (cmd, p.eval("document.scripts.length")))
    check(p.eval("document.querySelectorAll('img,iframe,object,embed,svg,b,i,[onerror]').length") == 0,
          "%s: markup from a name made elements" % cmd)
    check(p.eval("typeof window.__pwned") == "undefined", "%s: the name's script ran" % cmd)
    check(not p.problems(), "%s: problems after filtering: %s" % (cmd, p.problems()))

    shots(b, url, cmd)


def check_big(b, T):
    html = pathlib.Path(T) / "big.html"
    J = json.load(open(pathlib.Path(T) / "big.json"))
    files, summary = J["files"], J["summary"]
    n = len(files)
    check(n == 10000, "the run has %d images, want 10000" % n)
    size = html.stat().st_size
    check(size < 4000 * n, "the page is %d bytes (%d per image)" % (size, size // n))
    p = b.page(1280, 900)
    t0 = time.monotonic()
    p.open(html.as_uri(), timeout=180)
    secs = time.monotonic() - t0
    print("big: %d images, %d bytes, ready in %.1f s" % (n, size, secs))
    check(secs < 120, "the 10,000-image page took %.0f s to be ready" % secs)
    check(not p.problems(), "big: problems: %s" % p.problems())
    check(p.eval("document.body.dataset.rows") == str(n), "big: rows %s" % p.eval("document.body.dataset.rows"))
    idx = lambda: p.eval(JS_ROWS + ".map(a => +a.dataset.index)")
    paths = lambda: p.eval(JS_ROWS + ".map(a => a.querySelector('.path').textContent)")
    check(idx() == list(range(100)), "big: the first page is not images 0-99")
    check(paths() == [f["path"] for f in files[:100]], "big: first page paths")
    check(p.eval("document.body.dataset.pages") == "100", "big: %s pages" % p.eval("document.body.dataset.pages"))
    check(p.eval("document.getElementById('page').textContent") == "page 1 of 100", "big: page label")
    click(p, "#next")
    check(idx() == list(range(100, 200)), "big: next does not show images 100-199")
    check(p.eval("location.search") == "?page=2", "big: URL %r" % p.eval("location.search"))
    click(p, "#prev")
    check(idx() == list(range(100)), "big: previous does not go back")
    set_select(p, "f-size", "500")
    check(idx() == list(range(500)), "big: 500 per page")
    set_select(p, "f-size", "100")
    p2 = b.page(1280, 900)
    p2.open(html.as_uri() + "?page=100", timeout=180)
    check(p2.eval(JS_ROWS + ".map(a => +a.dataset.index)") == list(range(9900, 10000)),
          "big: ?page=100 is not the last 100 images")
    check(p2.eval("document.getElementById('next').disabled") is True, "big: next on the last page")
    # A filter over all 10,000, then pages of the filtered list.
    n_ref = summary["refused"]
    check(0 < n_ref < n, "big: %d refused" % n_ref)
    set_select(p, "f-class", "refused")
    check(p.eval("document.body.dataset.shown") == str(n_ref), "big: refused filter shows %s, want %d"
          % (p.eval("document.body.dataset.shown"), n_ref))
    got = p.eval(JS_ROWS + ".map(a => a.dataset['class'])")
    check(len(got) == min(100, n_ref) and set(got) == {"refused"}, "big: refused page %s" % got[:5])
    set_select(p, "f-class", "")
    target = files[7777]["path"]
    set_text(p, target.rsplit("/", 1)[1])
    check(paths() == [target], "big: text filter for %s shows %s" % (target, paths()[:3]))
    shots(b, html.as_uri(), "big")


def main():
    mode = sys.argv[1]
    with cdp.Browser() as b:
        if mode == "check":
            T, version_line, hostile = sys.argv[2], sys.argv[3], sys.argv[4]
            version = version_line.split()[1]  # "nxpatch 0.1.0" or "nxpatch 0.1.0 (test hooks)"
            for cmd in ("scan", "plan", "verify"):
                check_report(b, T, cmd, version, hostile)
        elif mode == "big":
            check_big(b, sys.argv[2])
        else:
            sys.exit("usage: report_html.py check|big ...")
    if FAILS:
        print("%d check(s) failed" % len(FAILS), file=sys.stderr)
        sys.exit(1)
    print("report_html.py %s: all checks passed" % mode)


if __name__ == "__main__":
    main()
