#!/usr/bin/python3
"""perf-report: write docs/PERFORMANCE.md from the results of bench/run.sh.

    scripts/perf-report.py [--results build/bench-results] [--out docs/PERFORMANCE.md]
                           [--charts docs/perf] [--analysis docs/perf/analysis] [--no-charts]
                           [--check]
    scripts/perf-report.py --merge [build/bench-results] [--into docs/perf/results]
                           [--out docs/PERFORMANCE.md] ...

Writing docs/PERFORMANCE.md from a full run merges the run's TSVs into
docs/perf/results/ first and writes the report from there, so that `make
bench-report` (--results docs/perf/results) gives it again byte for byte;
--check compares instead of writing. The report depends on the results and
the analysis text only (not on gnuplot being installed).

Merging (--merge DIR, `make bench-merge`; also the step above) takes the
benchmarks DIR/run.tsv lists: their DIR/<bench>.tsv replace theirs in
--into and their run's block is appended to its run.tsv; every other
benchmark keeps its results and its run. So one benchmark run alone
(BENCH_ONLY_SCRIPTS=tunnel bench/run.sh) updates its own section, and the
report lists each run whose figures it shows and names each section's run.
A quick run (BENCH_QUICK=1) is never merged.

Without --out, the results of a full run go to docs/PERFORMANCE.md, those of
a quick run (BENCH_QUICK=1) to <results>/PERFORMANCE.md, so that a trial run
never replaces the committed report; charts go to perf/ next to the output.

Reads <results>/run.tsv (per run: machine, commit, sizes, wall time per
benchmark; one block per run, see "runs" below) and <results>/<bench>.tsv
(records "kind<TAB>key=value<TAB>...", bench/results.sh).
Every number in the report comes from these files: tables, ratios against the
baselines measured in the same run, and the values cited by the analysis text.
The text lives in <analysis>/<bench>.md and <bench>.intro.md, copied verbatim
but for placeholders {name}, filled from the values computed here. A paragraph
or list item whose placeholder has no value in this run (a part not run, a
baseline missing) is left out, so the text never cites a number the run did
not produce. Charts are PNGs drawn by gnuplot into <charts>.

Standard library only (Debian's /usr/bin/python3); gnuplot for the charts.
"""
import argparse
import collections
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

BENCHES = [
    ('addr_bind', 'addr_bind: binding and rotating MT6D addresses'),
    ('tunnel', 'tunnel: the MT6D data plane against other tunnels'),
    ('dht', 'dht: our Mainline DHT node in a lab swarm'),
    ('rendezvous', 'rendezvous: publication round, fresh clients, libtorrent-only swarm'),
    ('sessions', 'sessions: mt6d-server with many clients'),
    ('tun_cost', 'tun_cost: what per-client session interfaces cost the kernel'),
]


# ---------------------------------------------------------------- reading
def read_records(path):
    """[(kind, {key: value}, line)] of one results file, the line as it is
    written (a merge copies records it keeps byte for byte); [] when the file
    is absent."""
    recs = []
    if not os.path.exists(path):
        return recs
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.rstrip('\n')
            if not line.strip():
                continue
            parts = line.split('\t')
            d = {}
            for p in parts[1:]:
                k, sep, v = p.partition('=')
                if sep:
                    d[k] = v
            recs.append((parts[0], d, line))
    return recs


def read_tsv(path):
    """[(kind, {key: value})] of one results file; [] when it is absent."""
    return [(k, d) for k, d, _ in read_records(path)]


def kind(recs, k, *need):
    """Records of one kind; with need, only those that have these keys
    (a malformed record is skipped, not a crash)."""
    return [d for kk, d in recs if kk == k and all(d.get(n) not in (None, '') for n in need)]


def ival(x):
    try:
        return int(x)
    except (TypeError, ValueError):
        return None


def one(recs, k):
    r = kind(recs, k)
    return r[0] if r else {}


def num(x):
    """float of a figure, None when absent or not a number."""
    if x is None:
        return None
    try:
        v = float(str(x).strip().rstrip('s%x'))
    except ValueError:
        return None
    return v if math.isfinite(v) else None


# ---------------------------------------------------------------- runs
# A results directory holds the results of one or more runs of bench/run.sh.
# run.tsv has one block per run: its `run` record (date, commit, machine,
# note), its `sizes`, one `bench` record per benchmark whose <bench>.tsv
# comes from that run, and its `end`. bench/run.sh writes one block; merging
# a run (--merge) appends its block and takes its benchmarks out of the older
# blocks, so that a benchmark is in exactly one block, and drops a block left
# without any.
def split_runs(recs):
    """The blocks of run.tsv's records (read_records): a `run` record starts
    one. A file of one run, as bench/run.sh writes it, is one block."""
    blocks = []
    for r in recs:
        if r[0] == 'run' or not blocks:
            blocks.append([])
        blocks[-1].append(r)
    return blocks


def block_benches(block):
    """Names of the benchmarks a block lists, in its order."""
    return [d['name'] for k, d, _ in block if k == 'bench' and d.get('name')]


def read_runs(results):
    """The runs behind <results>, in the order of run.tsv: dicts with the
    run's `run`, `sizes` and `end` records (meta, sizes, end), its number
    (no, from 1) and benches {name: its bench record}. A benchmark listed in
    two blocks (a file edited by hand) is the later block's."""
    runs = []
    for i, block in enumerate(split_runs(read_records(os.path.join(results, 'run.tsv')))):
        recs = [(k, d) for k, d, _ in block]
        runs.append({'no': i + 1, 'meta': one(recs, 'run'), 'sizes': one(recs, 'sizes'), 'end': one(recs, 'end'),
                     'benches': {d['name']: d for d in kind(recs, 'bench', 'name')}})
    own = bench_owners(runs)
    for r in runs:
        r['benches'] = {n: d for n, d in r['benches'].items() if own[n] is r}
    return runs


def bench_owners(runs):
    """{benchmark: the run its results come from}."""
    own = {}
    for r in runs:
        for name in r['benches']:
            own[name] = r
    return own


def run_label(r):
    """A run in a line: its date and commit."""
    m = r['meta']
    return '%s, commit %s%s' % (m.get('date', '(date unknown)'), m.get('commit', 'unknown'),
                                ' with uncommitted changes' if m.get('dirty') == 'yes' else '')


def run_mode(m):
    """'full' or 'quick', with BENCH_SCALE when it is not the default."""
    return '%s%s' % (m.get('mode', '?'), ', BENCH_SCALE=%s' % m['scale']
                     if m.get('scale') and m.get('scale') != 'default' else '')


# ---------------------------------------------------------------- merging
class MergeError(Exception):
    pass


def add_run_block(blocks, block):
    """blocks with block appended last; the benchmarks it lists are taken out
    of the earlier blocks, and a block left without a benchmark goes."""
    names = set(block_benches(block))
    kept = []
    for b in blocks:
        b = [r for r in b if not (r[0] == 'bench' and r[1].get('name') in names)]
        if block_benches(b):
            kept.append(b)
    return kept + [block] if names else kept


def write_atomically(path, data):
    """path's new content, never half of it: a merge cut short leaves the
    previous file."""
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(data)
    os.replace(tmp, path)


def merge_results(src, into):
    """Merge the results of the run in src (bench/run.sh's directory; or
    several runs, a merged directory) into the directory into: the
    benchmarks src's run.tsv lists replace theirs in into, their
    <bench>.tsv copied (or removed, when the run left none), their run's
    block appended to into's run.tsv; every other benchmark keeps its
    results and its run. Returns the names merged."""
    blocks_in = [b for b in split_runs(read_records(os.path.join(src, 'run.tsv'))) if block_benches(b)]
    if not blocks_in:
        raise MergeError('%s/run.tsv lists no benchmark: nothing to merge' % src)
    for b in blocks_in:
        m = one([(k, d) for k, d, _ in b], 'run')
        if m.get('mode') != 'full':
            raise MergeError('the run of %s in %s is not a full run (mode=%s): a BENCH_QUICK=1 run\'s '
                             'small sizes are not merged into the results behind the report'
                             % (m.get('date', '?'), src, m.get('mode', '?')))
    names = []
    for b in blocks_in:
        names += [n for n in block_benches(b) if n not in names]
    if os.path.exists(os.path.join(into, 'run.tsv')) and \
            os.path.samefile(os.path.join(src, 'run.tsv'), os.path.join(into, 'run.tsv')):
        return names
    stale_check(src, names)
    blocks = split_runs(read_records(os.path.join(into, 'run.tsv')))
    for b in blocks_in:
        blocks = add_run_block(blocks, b)
    os.makedirs(into, exist_ok=True)
    for n in names:
        dst = os.path.join(into, n + '.tsv')
        if os.path.exists(os.path.join(src, n + '.tsv')):
            with open(os.path.join(src, n + '.tsv'), encoding='utf-8') as f:
                write_atomically(dst, f.read())
        elif os.path.exists(dst):
            # The run listed it but wrote nothing (it failed first): the
            # older figures are not this run's.
            os.remove(dst)
    write_atomically(os.path.join(into, 'run.tsv'),
                     '\n\n'.join('\n'.join(line for _, _, line in b) for b in blocks) + '\n')
    return names


def stale_check(src, names):
    """Warn when a benchmark's results are much newer than run.tsv: that is
    bench/<name>.sh run alone after the run, and the run.tsv beside them
    names another run (go through bench/run.sh, BENCH_ONLY_SCRIPTS=name)."""
    t_run = os.path.getmtime(os.path.join(src, 'run.tsv'))
    for n in names:
        p = os.path.join(src, n + '.tsv')
        if os.path.exists(p) and os.path.getmtime(p) > t_run + 60:
            print('perf-report: warning: %s is newer than %s/run.tsv: written by bench/%s.sh alone, '
                  'after that run? Its figures are merged as that run\'s.' % (p, src, n), file=sys.stderr)


# ---------------------------------------------------------------- formatting
def fmt(v, digits=0, unit=''):
    """A number for the text: thousands separated, fixed digits."""
    if v is None:
        return None
    s = '{:,.{}f}'.format(v, digits)
    return s + unit


def fmt_auto(v):
    """Two significant digits at least, never more than 3 decimals."""
    if v is None:
        return None
    a = abs(v)
    if a >= 100 or v == int(v):
        return fmt(v, 0)
    if a >= 10:
        return fmt(v, 1)
    if a >= 1:
        return fmt(v, 2)
    return fmt(v, 3)


def times(a, b, digits=2):
    """a / b as 'N.NNx', None when either is missing or b is 0."""
    if a is None or b is None or b == 0:
        return None
    return fmt(a / b, digits) + 'x'


def cell(v, digits=None):
    if v is None:
        return '-'
    if isinstance(v, str):
        return v
    return fmt_auto(v) if digits is None else fmt(v, digits)


def table(header, rows, align=None):
    out = ['| ' + ' | '.join(header) + ' |']
    if align is None:
        align = ['---'] + ['---:'] * (len(header) - 1)
    out.append('|' + '|'.join(align) + '|')
    for r in rows:
        out.append('| ' + ' | '.join(cell(c) for c in r) + ' |')
    return '\n'.join(out)


def pctl(values, p):
    v = sorted(values)
    if not v:
        return None
    i = max(0, min(len(v) - 1, int(math.ceil(p / 100 * len(v))) - 1))
    return v[i]


# ---------------------------------------------------------------- templates
PLACEHOLDER = re.compile(r'\{([a-z0-9_]+)\}')


def fill(text, values):
    """Fill {name} placeholders. A unit (a paragraph, or one item of a list)
    with a placeholder without a value is dropped; so are lists left empty."""
    out_blocks = []
    for block in re.split(r'\n\s*\n', text.strip('\n')):
        units, cur = [], []
        for line in block.split('\n'):
            if re.match(r'\s*([-*]|\d+\.) ', line) and cur:
                units.append(cur)
                cur = []
            cur.append(line)
        if cur:
            units.append(cur)
        kept = []
        for u in units:
            s = '\n'.join(u)
            names = PLACEHOLDER.findall(s)
            if any(values.get(n) is None for n in names):
                continue
            kept.append(PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), s))
        if kept:
            out_blocks.append('\n'.join(kept))
    # A heading left with nothing under it (every paragraph of its part
    # dropped) goes too.
    def level(b):
        return len(b) - len(b.lstrip('#')) if re.match(r'#+ ', b) else 0
    out = []
    for i, b in enumerate(out_blocks):
        if level(b):
            j = i + 1
            nxt = out_blocks[j] if j < len(out_blocks) else None
            if nxt is None or (level(nxt) and level(nxt) <= level(b)):
                continue
        out.append(b)
    return '\n\n'.join(out)


def fragment(analysis_dir, name, values):
    path = os.path.join(analysis_dir, name + '.md')
    if not os.path.exists(path):
        return ''
    with open(path, encoding='utf-8') as f:
        return fill(f.read(), values)


# ---------------------------------------------------------------- charts
class Charts:
    def __init__(self, outdir, enabled, mdpath):
        self.outdir = outdir
        self.enabled = enabled and shutil.which('gnuplot') is not None
        self.reldir = os.path.relpath(outdir, os.path.dirname(os.path.abspath(mdpath)))
        self.made = []
        self.failed = []
        if self.enabled:
            os.makedirs(outdir, exist_ok=True)

    def bars(self, name, title, ylabel, labels, series, logscale=False):
        """Grouped bars: labels along x, series = [(title, [value or None])].
        Returns a markdown image reference ('' without data), the same with
        or without gnuplot, so that the report is a function of the results
        alone; the PNG is drawn when gnuplot is there."""
        if not labels or not series:
            return ''
        if logscale and not any(v is not None and v > 0 for _, vs in series for v in vs):
            return ''
        if not self.enabled:
            return self.ref(name, title)
        with tempfile.TemporaryDirectory() as tmp:
            data = os.path.join(tmp, 'data')
            with open(data, 'w') as f:
                for i, lab in enumerate(labels):
                    vals = []
                    for _, vs in series:
                        v = vs[i] if i < len(vs) else None
                        vals.append('NaN' if v is None or (logscale and v <= 0) else repr(float(v)))
                    f.write('"%s" %s\n' % (lab.replace('"', "'"), ' '.join(vals)))
            pos = [v for _, vs in series for v in vs if v is not None and v > 0]
            if logscale and not pos:
                return ''
            # A log axis from a power of ten below the smallest bar, so that
            # no bar is flush with the bottom.
            lo = repr(10 ** math.floor(math.log10(min(pos)) - 0.3)) if pos else ''
            png = os.path.join(self.outdir, name + '.png')
            plots = ', '.join("'%s' using %d:xtic(1) title '%s'" % (data, i + 2, t.replace("'", ''))
                              for i, (t, _) in enumerate(series))
            script = '\n'.join([
                'set terminal pngcairo size 900,420 font "sans,10"',
                "set output '%s'" % png,
                "set title '%s' noenhanced" % title.replace("'", ''),
                "set ylabel '%s'" % ylabel.replace("'", ''),
                'set style data histograms',
                'set style histogram clustered gap 1',
                'set style fill solid 0.8 border -1',
                'set boxwidth 0.9',
                'set grid ytics',
                'set key above' if len(series) > 1 else 'unset key',
                'set xtics rotate by -20 noenhanced',
                'set yrange [%s:*]' % (lo if logscale else '0'),
                'set logscale y' if logscale else 'unset logscale y',
                'plot ' + plots,
            ])
            return self._run(name, script, png, title)

    def lines(self, name, title, xlabel, ylabel, series, logscale=False, y2label=None):
        """series = [(title, [(x, y)])], y None skipped; with y2label, a
        series (title, points, 'y2') is drawn against a right-hand axis."""
        series = [(s[0], [(x, y) for x, y in s[1] if y is not None and (not logscale or y > 0)],
                   s[2] if len(s) > 2 else 'y1') for s in series]
        series = [s for s in series if s[1]]
        if not series:
            return ''
        if not self.enabled:
            return self.ref(name, title)
        with tempfile.TemporaryDirectory() as tmp:
            plots = []
            for i, (t, pts, ax) in enumerate(series):
                data = os.path.join(tmp, 'd%d' % i)
                with open(data, 'w') as f:
                    for x, y in pts:
                        f.write('%r %r\n' % (float(x), float(y)))
                plots.append("'%s' using 1:2 axes x1%s with linespoints lw 2 pt 7 title '%s'"
                             % (data, 'y2' if ax == 'y2' and y2label else 'y1', t.replace("'", '')))
            xs = sorted(x for _, pts, _ in series for x, _ in pts)
            png = os.path.join(self.outdir, name + '.png')
            script = '\n'.join([
                'set terminal pngcairo size 900,420 font "sans,10"',
                "set output '%s'" % png,
                "set title '%s' noenhanced" % title.replace("'", ''),
                "set xlabel '%s'" % xlabel,
                "set ylabel '%s'" % ylabel,
                'set grid',
                'set key above',
                'set logscale xy' if logscale else 'set yrange [0:*]',
                'set xrange [%r:%r]' % (xs[0] * 0.8, xs[-1] * 1.25) if logscale else 'set xrange [0:%r]' % (xs[-1] * 1.05),
                ("set y2label '%s'\nset y2tics\nset ytics nomirror\n%s" %
                 (y2label.replace("'", ''), 'set logscale y2' if logscale else 'set y2range [0:*]')
                 if y2label else ''),
                'plot ' + ', '.join(plots),
            ])
            return self._run(name, script, png, title)

    def ref(self, name, title):
        return '![%s](%s/%s.png)' % (title, self.reldir, name)

    def _run(self, name, script, png, title):
        r = subprocess.run(['gnuplot'], input=script, text=True, capture_output=True)
        if r.returncode != 0 or not os.path.exists(png):
            self.failed.append('%s: %s' % (name, r.stderr.strip()[:200]))
        else:
            self.made.append(png)
        return self.ref(name, title)


# ---------------------------------------------------------------- addr_bind
def sec_addr_bind(recs, charts, v):
    """Markdown of the tables; fills v with the values the text may cite."""
    out = []
    par = one(recs, 'param')
    rot_s = num(par.get('rot_s')) or 3
    v['rot_period'] = fmt(rot_s, 0)
    v['rot_seconds'] = par.get('rot_seconds')
    v['children'] = par.get('children')
    binds = [{k: (num(x) if k != 'n' else int(x)) for k, x in d.items()} for d in kind(recs, 'bind', 'n')
             if ival(d['n']) and ival(d['n']) > 0]
    binds.sort(key=lambda d: d['n'])
    if binds:
        rows = []
        pn, pt = 0, 0.0
        for b in binds:
            n, ea = b['n'], b.get('mt6d_add')
            us = ea * 1e6 / n if ea is not None else None
            marg = (ea - pt) * 1e6 / (n - pn) if ea is not None and n > pn else None
            b['us_add'], b['us_marg'] = us, marg
            rows.append([fmt(n, 0), b.get('mt6d_add'), b.get('mt6d_del'), b.get('ip_add'), b.get('ip_del'),
                         times(b.get('ip_add'), ea), times(b.get('ip_del'), b.get('mt6d_del')),
                         b.get('mv64_add'), b.get('mv64_del'), times(b.get('ip_add'), b.get('mv64_add')),
                         fmt(us, 0), fmt(marg, 0)])
            if ea is not None:
                pn, pt = n, ea
        out.append('**1. Bind then remove N addresses** (random IIDs, /128, nodad, preferred_lft 0), seconds:')
        out.append('')
        out.append(table(['N', 'mt6d add', 'mt6d del', 'ip add', 'ip del', 'add: ip/mt6d', 'del: ip/mt6d',
                          'mv64 add', 'mv64 del', 'add: ip/mv64', 'us/add', 'us@N'], rows))
        out.append('')
        out.append('ip/mt6d: how many times faster our engine is than `ip -6 -batch` on the same '
                   'interface with the same addresses (time of ip / time of mt6d; above 1 = we are '
                   'faster). mv64: our engine with the addresses spread over %s macvlan children. '
                   'us/add: mean cost of one add by mt6d on one interface while 0..N addresses are '
                   'bound; us@N: the same between the previous row\'s N and this one (marginal cost).'
                   % (v['children'] or '64'))
        out.append('')
        lo, hi = binds[0], binds[-1]
        v['bind_n_lo'], v['bind_n_hi'] = fmt(lo['n'], 0), fmt(hi['n'], 0)
        v['bind_ratio_lo'] = times(lo.get('ip_add'), lo.get('mt6d_add'))
        v['bind_ratio_hi'] = times(hi.get('ip_add'), hi.get('mt6d_add'))
        v['bind_del_ratio_hi'] = times(hi.get('ip_del'), hi.get('mt6d_del'))
        v['us_add_lo'] = fmt(lo.get('us_add'), 0)
        v['us_marg_hi'] = fmt(hi.get('us_marg'), 0)
        v['mt6d_add_hi'] = fmt_auto(hi.get('mt6d_add'))
        v['mt6d_del_hi'] = fmt_auto(hi.get('mt6d_del'))
        v['mv64_add_hi'] = fmt_auto(hi.get('mv64_add'))
        v['mv64_del_hi'] = fmt_auto(hi.get('mv64_del'))
        if hi.get('mt6d_add') and hi.get('mv64_add') and hi['mv64_add'] < hi['mt6d_add']:
            v['mv64_speedup_hi'] = times(hi.get('mt6d_add'), hi.get('mv64_add'), 1)
        if hi.get('mt6d_del') and hi.get('mv64_del'):
            r = hi['mv64_del'] / hi['mt6d_del']
            v['mv64_del_verdict'] = ('**Removals do not get that benefit**' if r > 0.7 else
                                     '**Removals gain less**')
        v['mv64_vs_ip_hi'] = times(hi.get('ip_add'), hi.get('mv64_add'), 1)
        if len(binds) > 1:
            v['bind_n_growth'] = times(hi['n'], lo['n'], 0)
            v['bind_add_growth'] = times(hi.get('mt6d_add'), lo.get('mt6d_add'), 0)
            v['bind_marg_growth'] = times(hi.get('us_marg'), lo.get('us_add'), 0)
        met = [b for b in binds if (times(b.get('ip_add'), b.get('mt6d_add')) or '0x') and
               b.get('mt6d_add') and b.get('ip_add') and b['ip_add'] / b['mt6d_add'] >= 1.5]
        v['bind_target'] = ', '.join('%s at %s' % (times(b.get('ip_add'), b.get('mt6d_add')), fmt(b['n'], 0))
                                     for b in binds if b.get('mt6d_add') and b.get('ip_add'))
        v['bind_target_met'] = ', '.join(fmt(b['n'], 0) for b in met) or 'none of the sizes'
        img = charts.lines('addr_bind_bind', 'Binding, then removing, N addresses: time for all N',
                           'N addresses (log)', 'seconds (log)',
                           [('add: mt6d, one interface', [(b['n'], b.get('mt6d_add')) for b in binds]),
                            ('add: ip -6 -batch, one interface', [(b['n'], b.get('ip_add')) for b in binds]),
                            ('add: mt6d over macvlan children', [(b['n'], b.get('mv64_add')) for b in binds]),
                            ('remove: mt6d, one interface', [(b['n'], b.get('mt6d_del')) for b in binds]),
                            ('remove: ip -6 -batch', [(b['n'], b.get('ip_del')) for b in binds])], logscale=True)
        if img:
            out += [img, '']

    rots = [r for r in kind(recs, 'rot', 's', 'mode') if ival(r['s']) and ival(r['s']) > 0]
    if rots:
        rows = []
        for r in rots:
            s = int(r['s'])
            cpu, ticks = num(r.get('cpu')), num(r.get('ticks'))
            per = cpu * 1e6 / (s * ticks) if cpu is not None and ticks else None
            r['per_rot_us'] = per
            skipped = r.get('sustained') == 'skipped'
            rows.append([fmt(s, 0), r['mode'], None if skipped else num(r.get('setup')),
                         None if skipped else num(r.get('mean_tick')), None if skipped else num(r.get('max_tick')),
                         None if skipped else cpu, None if skipped else fmt(num(r.get('cpu_pct')), 1, ' %'),
                         None if skipped else fmt(per, 0), r.get('sustained', '-')])
        out.append('**2. Sustained rotation** for %s s of S sessions, three live addresses each, one '
                   'replaced every %s s, all on the same slot boundary (the worst case):'
                   % (v['rot_seconds'] or '?', v['rot_period']))
        out.append('')
        out.append(table(['S', 'mode', 'setup s', 'mean tick s', 'max tick s', 'CPU s', 'CPU % of a core',
                          'CPU us per session-rotation', 'sustained'], rows,
                         ['---:', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---']))
        out.append('')
        out.append('addr-1: per-address mode on one interface; addr-%s: over %s macvlan children; '
                   'scale: claimed /64, our responder\'s set (3 per session) and one IPV6_FREEBIND UDP '
                   'socket per session, replaced every tick. A run stops at its first tick longer than '
                   '%s s (sustained = no); its CPU share is over its shortened window. skipped: not run '
                   'at this size (addr-1 above 1,000 sessions, which it cannot set up in minutes on this kernel; '
                   'addr-%s above ROT_ADDR64_MAX, to keep `make bench` short).'
                   % (v['children'], v['children'], v['rot_period'], v['children']))
        out.append('')

        def best(mode, limit=25.0):
            ok = [r for r in rots if r['mode'] == mode and r.get('sustained') == 'yes'
                  and (num(r.get('cpu_pct')) or 0) < limit]
            return max(ok, key=lambda r: int(r['s'])) if ok else None

        def first_fail(mode):
            bad = [r for r in rots if r['mode'] == mode and r.get('sustained') == 'no']
            return min(bad, key=lambda r: int(r['s'])) if bad else None

        for mode, key in (('addr-1', 'a1'), ('addr-64', 'a64'), ('scale', 'sc')):
            b = best(mode)
            v['rot_%s_best' % key] = fmt(int(b['s']), 0) if b else None
            v['rot_%s_best_cpu' % key] = fmt(num(b.get('cpu_pct')), 1, ' %') if b else None
            v['rot_%s_best_tick' % key] = fmt_auto(num(b.get('mean_tick'))) if b else None
            f = first_fail(mode)
            v['rot_%s_fail' % key] = fmt(int(f['s']), 0) if f else None
            v['rot_%s_fail_tick' % key] = fmt_auto(num(f.get('max_tick'))) if f else None
        sc = sorted([r for r in rots if r['mode'] == 'scale' and r.get('sustained') in ('yes', 'no')],
                    key=lambda r: int(r['s']))
        if sc:
            top = sc[-1]
            v['scale_s_max'] = fmt(int(top['s']), 0)
            v['scale_cpu_max'] = fmt(num(top.get('cpu_pct')), 1, ' %')
            v['scale_tick_mean'] = fmt_auto(num(top.get('mean_tick')))
            v['scale_tick_max'] = fmt_auto(num(top.get('max_tick')))
            v['scale_sustained_max'] = 'kept up' if top.get('sustained') == 'yes' else 'did not keep up'
            big = [r for r in sc if int(r['s']) >= 15000]
            if big:
                r = big[0]
                v['scale_target'] = ('met (%s at %s sessions)' % (fmt(num(r.get('cpu_pct')), 1, ' %'), fmt(int(r['s']), 0))
                                     if r.get('sustained') == 'yes' and (num(r.get('cpu_pct')) or 100) < 25
                                     else 'not met (%s at %s sessions, sustained: %s)'
                                     % (fmt(num(r.get('cpu_pct')), 1, ' %'), fmt(int(r['s']), 0), r.get('sustained')))
            v['scale_per_rot'] = ', '.join('%s us at %s' % (fmt(r['per_rot_us'], 0), fmt(int(r['s']), 0))
                                           for r in sc if r.get('per_rot_us') is not None)
        img = charts.bars('addr_bind_rotation', 'Sustained rotation: CPU share of one core, by sessions S',
                          'CPU % of one core (log)',
                          sorted({fmt(int(r['s']), 0) for r in rots}, key=lambda x: int(x.replace(',', ''))),
                          [(mode, [next((num(r.get('cpu_pct')) for r in rots if r['mode'] == mode
                                         and fmt(int(r['s']), 0) == lab and r.get('sustained') != 'skipped'),
                                        None)
                                   for lab in sorted({fmt(int(r['s']), 0) for r in rots},
                                                     key=lambda x: int(x.replace(',', '')))])
                           for mode in dict.fromkeys(r['mode'] for r in rots)], logscale=True)
        if img:
            out += [img, '']

    proxies = [{k: (num(x) if k != 'n' else int(x)) for k, x in d.items()} for d in kind(recs, 'proxy', 'n')
               if ival(d['n']) and ival(d['n']) > 0]
    if proxies:
        out.append('**3. Kernel proxy-NDP entries** (`ip -6 -batch neigh add/del proxy`), the '
                   'alternative to our responder in scale mode, seconds:')
        out.append('')
        rows = []
        for p in proxies:
            same = next((b for b in binds if b['n'] == p['n']), None)
            rows.append([fmt(p['n'], 0), p.get('add'), p.get('del'),
                         same.get('ip_add') if same else None])
        out.append(table(['N', 'proxy add', 'proxy del', 'ip addr add, same N (table 1)'], rows))
        out.append('')
        hi = proxies[-1]
        v['proxy_n_hi'] = fmt(hi['n'], 0)
        v['proxy_add_hi'] = fmt_auto(hi.get('add'))
        if len(proxies) > 1:
            v['proxy_growth'] = times(hi.get('add'), proxies[0].get('add'), 0)
            v['proxy_n_growth'] = times(hi['n'], proxies[0]['n'], 0)
    return '\n'.join(out)


# ---------------------------------------------------------------- tunnel
TUNNEL_SHORT = {'plain': 'plain', 'wg-go': 'wireguard-go', 'wg-kern': 'kernel WG', 'openvpn': 'OpenVPN',
                'mt6d': 'mt6d-peer', 'mt6d-nooff': 'mt6d no TUN offloads', 'mt6d-nogso': 'mt6d no GSO/GRO',
                'mt6d-nopad': 'mt6d no padding', 'mt6d-aes': 'mt6d AES-256-GCM',
                'mt6d-q1': 'mt6d Queues = 1', 'mt6d-q2': 'mt6d Queues = 2'}


def sec_tunnel(recs, charts, v):
    out = []
    par = one(recs, 'param')
    v['tun_runs'], v['tun_seconds'] = par.get('runs'), par.get('seconds')
    v['tun_udp_mbps'], v['tun_rot'] = par.get('udp_mbps'), par.get('rot')
    paths = kind(recs, 'path', 'cfg', 'name')
    by = {p['cfg']: p for p in paths}
    F = lambda cfg, k: num(by.get(cfg, {}).get(k))
    ours = 'mt6d' if 'mt6d' in by else None
    if paths:
        rows = []
        for p in paths:
            if p.get('ok') != '1':
                rows.append([p['name'], 'no path'] + [None] * 9)
                continue
            load = '-'
            if F(p['cfg'], 'rtt_load_p50_us') is not None:
                load = '%s / %s' % (fmt(F(p['cfg'], 'rtt_load_p50_us'), 0), fmt(F(p['cfg'], 'rtt_load_p99_us'), 0))
            rows.append([p['name'], F(p['cfg'], 'tcp1_gbps'), F(p['cfg'], 'tcp4_gbps'),
                         fmt(F(p['cfg'], 'udp_pps'), 0), fmt(F(p['cfg'], 'udp_loss_pct'), 2),
                         fmt(F(p['cfg'], 'rtt_us'), 0), load, fmt(F(p['cfg'], 'cores_per_gbps'), 2),
                         fmt(F(p['cfg'], 'retransmits'), 0),
                         times(F('mt6d', 'tcp1_gbps'), F(p['cfg'], 'tcp1_gbps')) if ours and p['cfg'] != 'mt6d' else '-',
                         fmt(F('mt6d', 'rtt_us') - F(p['cfg'], 'rtt_us'), 0, ' us')
                         if ours and p['cfg'] != 'mt6d' and F('mt6d', 'rtt_us') is not None
                         and F(p['cfg'], 'rtt_us') is not None else '-'])
        out.append(table(['path', 'TCP 1 stream Gbit/s', 'TCP 4 streams Gbit/s', 'UDP pps received',
                          'UDP loss %', 'ping RTT us', 'RTT under load p50 / p99 us', 'tunnel CPU cores per Gbit/s',
                          'TCP retransmits', 'mt6d TCP 1 stream / this', 'mt6d RTT - this'], rows,
                         ['---'] + ['---:'] * 10))
        out.append('')
        out.append('Medians of %s runs of %s s each; UDP offered at %s Mbit/s in 1200-byte datagrams; '
                   'RTT: 100 pings 10 ms apart at idle; RTT under load: a ping every 10 ms beside the '
                   '1-stream TCP run (percentiles of the samples of every run); CPU: user + system time '
                   'of the tunnel processes of both ends during the 1-stream TCP run. The last two '
                   'columns compare (d) with each path of the same run.'
                   % (v['tun_runs'], v['tun_seconds'], v['tun_udp_mbps']))
        out.append('')
        verdicts = kind(recs, 'verdict', 'name')
        if verdicts:
            out.append('Targets, computed by bench/tunnel.sh from this run:')
            out.append('')
            for d in verdicts:
                out.append('- %s: %s' % ('met' if d.get('status') == 'met' else '**missed**', d.get('text', '')))
            out.append('')
        for n in kind(recs, 'note'):
            out.append('- ' + n.get('text', ''))
        if kind(recs, 'note'):
            out.append('')
        ok = [p for p in paths if p.get('ok') == '1']
        img = charts.bars('tunnel_throughput', 'Throughput through each path (iperf3 TCP)', 'Gbit/s (log)',
                          [TUNNEL_SHORT.get(p['cfg'], p['cfg']) for p in ok],
                          [('1 stream', [F(p['cfg'], 'tcp1_gbps') for p in ok]),
                           ('4 streams', [F(p['cfg'], 'tcp4_gbps') for p in ok])], logscale=True)
        img2 = charts.bars('tunnel_rtt', 'Idle ping RTT through each path (median)', 'us',
                           [TUNNEL_SHORT.get(p['cfg'], p['cfg']) for p in ok],
                           [('ping RTT', [F(p['cfg'], 'rtt_us') for p in ok])])
        tun = [p for p in ok if p['cfg'] != 'plain']
        img3 = charts.bars('tunnel_cpu', 'CPU of the tunnel daemons (both ends) per Gbit/s, 1 TCP stream',
                           'cores per Gbit/s', [TUNNEL_SHORT.get(p['cfg'], p['cfg']) for p in tun],
                           [('cores per Gbit/s', [F(p['cfg'], 'cores_per_gbps') for p in tun])])
        for i in (img, img2, img3):
            if i:
                out += [i, '']
    # Values for the text.
    m = lambda k: F('mt6d', k)
    v['tun_mt6d_tcp1'] = fmt_auto(m('tcp1_gbps'))
    v['tun_mt6d_tcp4'] = fmt_auto(m('tcp4_gbps'))
    v['tun_mt6d_cpu'] = fmt(m('cores_per_gbps'), 2)
    v['tun_mt6d_rtt'] = fmt(m('rtt_us'), 0)
    v['tun_plain_tcp1'] = fmt_auto(F('plain', 'tcp1_gbps'))
    v['tun_plain_rtt'] = fmt(F('plain', 'rtt_us'), 0)
    v['tun_plain_share'] = fmt(100 * m('tcp1_gbps') / F('plain', 'tcp1_gbps'), 0, ' %') \
        if m('tcp1_gbps') is not None and F('plain', 'tcp1_gbps') else None
    base = [c for c in ('wg-kern', 'wg-go', 'openvpn') if F(c, 'tcp1_gbps')]
    if base and m('tcp1_gbps') is not None:
        b = max(base, key=lambda c: F(c, 'tcp1_gbps'))
        v['tun_best_base'] = re.sub(r'^\([a-z]\'?\) ', '', by[b]['name'])
        v['tun_best_base_tcp1'] = fmt_auto(F(b, 'tcp1_gbps'))
        r = m('tcp1_gbps') / F(b, 'tcp1_gbps')
        v['tun_vs_best'] = fmt(r, 1) + 'x'
        v['tun_target'] = 'met' if r >= 2 else 'not met'
        cpus = [F(c, 'cores_per_gbps') for c in base if F(c, 'cores_per_gbps') is not None]
        if cpus and m('cores_per_gbps'):
            v['tun_base_cpu'] = fmt(min(cpus), 2) if len(cpus) == 1 else '%s-%s' % (fmt(min(cpus), 2), fmt(max(cpus), 2))
            v['tun_cpu_ratio'] = fmt(min(cpus) / m('cores_per_gbps'), 1) + 'x'
    for c, key in (('wg-go', 'wg'), ('openvpn', 'ovpn')):
        v['tun_%s_tcp1' % key] = fmt_auto(F(c, 'tcp1_gbps'))
        v['tun_vs_%s' % key] = times(m('tcp1_gbps'), F(c, 'tcp1_gbps'), 1)
        if F(c, 'rtt_us') is not None and F('plain', 'rtt_us') is not None:
            v['tun_%s_rtt_add' % key] = fmt(F(c, 'rtt_us') - F('plain', 'rtt_us'), 0)
    if m('rtt_us') is not None and F('plain', 'rtt_us') is not None:
        add = m('rtt_us') - F('plain', 'rtt_us')
        v['tun_rtt_add'] = fmt(add, 0)
        v['tun_rtt_target'] = 'under' if add < 100 else 'over'
    if m('tcp1_gbps') and F('mt6d-nogso', 'tcp1_gbps'):
        g = m('tcp1_gbps') / F('mt6d-nogso', 'tcp1_gbps')
        nogso = fmt_auto(F('mt6d-nogso', 'tcp1_gbps'))
        v['tun_gso_effect'] = ('add %.2fx here (%s Gbit/s without them)' % (g, nogso) if g >= 1.05 else
                               'cost %.2fx here (%s Gbit/s without them)' % (1 / g, nogso) if g <= 0.95 else
                               'made no measurable difference in this run (%.2fx; %s Gbit/s without them)' % (g, nogso))
        if m('cores_per_gbps') and F('mt6d-nogso', 'cores_per_gbps'):
            c = 1 - m('cores_per_gbps') / F('mt6d-nogso', 'cores_per_gbps')
            v['tun_gso_cpu'] = ('cut the CPU per Gbit/s by %s' % fmt(100 * c, 0, ' %') if c > 0 else
                                'raised the CPU per Gbit/s by %s' % fmt(-100 * c, 0, ' %'))
        if m('rtt_us') is not None and F('mt6d-nogso', 'rtt_us') is not None:
            n_rtt = F('mt6d-nogso', 'rtt_us')
            v['tun_nogso_rtt'] = ('%s us, %s' % (fmt(n_rtt, 0), 'no lower: the offloads are not what costs latency'
                                                if n_rtt >= 0.9 * m('rtt_us') else
                                                'lower than with them: at idle the offloads may cost some latency'))
    if m('tcp1_gbps') and F('mt6d-nooff', 'tcp1_gbps'):
        g = m('tcp1_gbps') / F('mt6d-nooff', 'tcp1_gbps')
        v['tun_off_effect'] = 'x%.2f in one TCP stream (%s Gbit/s without them, %s with)' % (
            g, fmt_auto(F('mt6d-nooff', 'tcp1_gbps')), fmt_auto(m('tcp1_gbps')))
        if m('tcp4_gbps') and F('mt6d-nooff', 'tcp4_gbps'):
            v['tun_off_effect'] += ', x%.2f in four' % (m('tcp4_gbps') / F('mt6d-nooff', 'tcp4_gbps'))
        if m('cores_per_gbps') and F('mt6d-nooff', 'cores_per_gbps'):
            v['tun_off_cpu'] = '%s cores per Gbit/s against %s without them (x%.2f)' % (
                fmt(m('cores_per_gbps'), 2), fmt(F('mt6d-nooff', 'cores_per_gbps'), 2),
                m('cores_per_gbps') / F('mt6d-nooff', 'cores_per_gbps'))
    if m('tcp1_gbps') and F('mt6d-aes', 'tcp1_gbps'):
        v['tun_aes_effect'] = 'one TCP stream %s Gbit/s against %s (x%.2f)' % (
            fmt_auto(F('mt6d-aes', 'tcp1_gbps')), fmt_auto(m('tcp1_gbps')), F('mt6d-aes', 'tcp1_gbps') / m('tcp1_gbps'))
        if m('cores_per_gbps') and F('mt6d-aes', 'cores_per_gbps'):
            v['tun_aes_effect'] += ', %s cores per Gbit/s against %s (x%.2f)' % (
                fmt(F('mt6d-aes', 'cores_per_gbps'), 2), fmt(m('cores_per_gbps'), 2),
                F('mt6d-aes', 'cores_per_gbps') / m('cores_per_gbps'))
    if m('rtt_load_p50_us') is not None:
        v['tun_load_rtt'] = '%s / %s us (p50 / p99)' % (fmt(m('rtt_load_p50_us'), 0), fmt(m('rtt_load_p99_us'), 0))
        others = ['%s %s / %s us' % (TUNNEL_SHORT.get(c, c), fmt(F(c, 'rtt_load_p50_us'), 0), fmt(F(c, 'rtt_load_p99_us'), 0))
                  for c in ('plain', 'wg-go', 'openvpn', 'mt6d-nooff') if F(c, 'rtt_load_p50_us') is not None]
        v['tun_load_rtt_others'] = ', '.join(others) if others else None
    v['tun_mt6d_udp_loss'] = fmt(m('udp_loss_pct'), 2)
    v['tun_plain_udp_loss'] = fmt(F('plain', 'udp_loss_pct'), 2)
    cnt = {c['cfg']: c for c in kind(recs, 'counters', 'cfg')}
    c = cnt.get('mt6d')
    if c:
        tx, rx = num(c.get('A_tx_packets')), num(c.get('B_rx_packets'))
        v['tun_sealed'] = fmt(tx, 0)
        v['tun_delivered'] = fmt(rx, 0)
        v['tun_lost'] = fmt(tx - rx, 0) if tx is not None and rx is not None else None
        v['tun_rotations'] = fmt((num(c.get('A_rotations')) or 0) + (num(c.get('B_rotations')) or 0), 0)
        drops = []
        for k, x in c.items():
            side, _, what = k.partition('_')
            if what.startswith('drops_') and num(x):
                drops.append('%s %s at %s' % (fmt(num(x), 0), what[len('drops_'):], side))
        v['tun_drops'] = ', '.join(drops) if drops else 'none'
        late = [num(c.get(s + '_rotation_late_max_us')) for s in 'AB']
        late = [x for x in late if x is not None]
        v['tun_late_ms'] = fmt(max(late) / 1000, 0) if late else None
        if tx is not None and tx == rx:
            v['if_all_delivered'] = ''
        v['tun_counter_verdict'] = ('every packet sealed by A was delivered by B' if tx == rx
                                    else '%s packets sealed by A were not delivered by B' % fmt(tx - rx, 0)) \
            if tx is not None and rx is not None else None
    return '\n'.join(out)


# ---------------------------------------------------------------- dht
DHT_ROWS = [
    ('lookup_ms_median', 'lookup latency, median (ms)', 'libtorrent'),
    ('lookup_ms_p95', 'lookup latency, p95 (ms)', 'libtorrent'),
    ('lookup_msgs', 'messages sent per lookup', 'libtorrent'),
    ('publish_ms', 'publication of 100 bytes: time (ms)', 'one announce per port'),
    ('publish_msgs', 'publication of 100 bytes: messages sent', 'one announce per port'),
    ('collect_success', 'collection: success rate', 'libtorrent'),
    ('collect_ms_median', 'collection: time per trial, median (ms)', 'libtorrent'),
    ('collect_ms_p95', 'collection: time per trial, p95 (ms)', 'libtorrent'),
    ('collect_msgs', 'collection: messages sent per trial', 'libtorrent'),
    ('killed_success', 'collection, {killed} of {total} nodes killed: success rate', None),
    ('killed_ms_median', 'collection, {killed} killed: time per trial, median (ms)', None),
    ('killed_msgs', 'collection, {killed} killed: messages sent per trial', None),
]


def sec_dht(recs, charts, v):
    out = []
    par = one(recs, 'param')
    ex = one(recs, 'extra')
    met = {d['key']: d for d in kind(recs, 'metric', 'key')}
    if not met:
        return ''
    for k in ('ours', 'lt', 'trials', 'lt_trials', 'killed', 'total', 'lookups'):
        v['dht_' + k] = par.get(k)
    rows = []
    for key, label, base in DHT_ROWS:
        d = met.get(key)
        if not d:
            continue
        o, b = d.get('ours'), d.get('base')
        label = label.format(killed=par.get('killed', '?'), total=par.get('total', '?'))
        if '/' in str(o):
            rows.append([label, o, '-' if b in (None, '-', '-/-') else '%s (%s)' % (b, base), '-'])
        else:
            rows.append([label, fmt_auto(num(o)), '-' if num(b) is None else '%s (%s)' % (fmt_auto(num(b)), base),
                         times(num(o), num(b))])
    out.append('Swarm: %s mt6d-dhtnode + %s libtorrent 2.0.8 nodes in one namespace, no added delay; '
               'message: 100 bytes = 5 chunks of 20 ports; %s lookups, %s collection trials of ours, '
               '%s of libtorrent.' % (par.get('ours'), par.get('lt'), par.get('lookups'), par.get('trials'),
                                      par.get('lt_trials')))
    out.append('')
    out.append(table(['measure', 'mt6d dht', 'baseline (same run)', 'ours / baseline'], rows))
    out.append('')
    out.append('ours / baseline below 1: we need less time or fewer messages than the baseline.')
    out.append('')
    g = lambda k, w: num(met.get(k, {}).get(w))
    labels, so, sb = [], [], []
    for key, lab in (('lookup_ms_median', 'lookup median'), ('lookup_ms_p95', 'lookup p95'),
                     ('publish_ms', 'publication'), ('collect_ms_median', 'collection median'),
                     ('collect_ms_p95', 'collection p95'), ('killed_ms_median', 'collection, 30 % killed')):
        if key in met:
            labels.append(lab)
            so.append(g(key, 'ours'))
            sb.append(g(key, 'base'))
    img = charts.bars('dht_times', 'DHT: time of each operation, ours and the baseline', 'ms (log)',
                      labels, [('mt6d dht', so), ('baseline', sb)], logscale=True)
    labels, so, sb = [], [], []
    for key, lab in (('lookup_msgs', 'per lookup'), ('collect_msgs', 'per collection'),
                     ('killed_msgs', 'per collection, 30 % killed'), ('publish_msgs', 'publication of 100 B')):
        if key in met:
            labels.append(lab)
            so.append(g(key, 'ours'))
            sb.append(g(key, 'base'))
    img2 = charts.bars('dht_messages', 'DHT: messages sent, ours and the baseline', 'messages (log)',
                       labels, [('mt6d dht', so), ('baseline', sb)], logscale=True)
    for i in (img, img2):
        if i:
            out += [i, '']
    v['dht_lookup_median'] = fmt(g('lookup_ms_median', 'ours'), 0)
    v['dht_lookup_p95'] = fmt(g('lookup_ms_p95', 'ours'), 0)
    v['dht_lt_lookup_median'] = fmt(g('lookup_ms_median', 'base'), 0)
    v['dht_lt_lookup_p95'] = fmt(g('lookup_ms_p95', 'base'), 0)
    v['dht_lookup_msgs'] = fmt(g('lookup_msgs', 'ours'), 1)
    v['dht_lt_lookup_msgs'] = fmt(g('lookup_msgs', 'base'), 1)
    v['dht_publish_ms'] = fmt(g('publish_ms', 'ours'), 0)
    v['dht_naive_ms'] = fmt(g('publish_ms', 'base'), 0)
    v['dht_publish_speedup'] = times(g('publish_ms', 'base'), g('publish_ms', 'ours'), 1)
    v['dht_publish_msgs'] = fmt(g('publish_msgs', 'ours'), 0)
    v['dht_naive_msgs'] = fmt(g('publish_msgs', 'base'), 0)
    v['dht_collect_success'] = met.get('collect_success', {}).get('ours')
    v['dht_lt_collect_success'] = met.get('collect_success', {}).get('base')
    v['dht_collect_median'] = fmt(g('collect_ms_median', 'ours'), 0)
    v['dht_lt_collect_median'] = fmt(g('collect_ms_median', 'base'), 0)
    v['dht_collect_vs_lt'] = times(g('collect_ms_median', 'ours'), g('collect_ms_median', 'base'), 1)
    v['dht_collect_msgs'] = fmt(g('collect_msgs', 'ours'), 1)
    v['dht_lt_collect_msgs'] = fmt(g('collect_msgs', 'base'), 1)
    co, cb = g('collect_msgs', 'ours'), g('collect_msgs', 'base')
    if co is not None and cb:
        v['dht_collect_msgs_cmp'] = ('%s fewer' % fmt(100 * (1 - co / cb), 0, ' %') if co < cb
                                     else '%s more' % fmt(100 * (co / cb - 1), 0, ' %'))
    v['dht_killed_success'] = met.get('killed_success', {}).get('ours')
    v['dht_killed_median'] = fmt(g('killed_ms_median', 'ours'), 0)
    v['dht_killed_p95'] = fmt(num(ex.get('killed_ms_p95')), 0)
    v['dht_killed_msgs'] = fmt(g('killed_msgs', 'ours'), 1)
    if g('killed_ms_median', 'ours') is not None and g('collect_ms_median', 'ours') is not None:
        extra = g('killed_ms_median', 'ours') - g('collect_ms_median', 'ours')
        v['dht_killed_extra'] = fmt(extra, 0)
        # A verdict for every outcome, a slower or a faster median alike.
        if extra >= 1500:
            v['dht_killed_extra_text'] = (
                'The %s ms more per trial after the kills say that lookups waited out the 2 s timeouts '
                '(`DHT_QUERY_TIMEOUT_MS`) of dead nodes still listed in the survivors\' tables, whole timeouts, '
                'once per hop that met one.' % fmt(extra, 0))
        elif extra >= 100:
            v['dht_killed_extra_text'] = (
                'The %s ms more per trial after the kills say that a dead node still listed in the survivors\' '
                'tables costs a lookup its slow limit (an RTT-based 200 ms-1 s, docs/DHT.md), not the whole 2 s '
                'timeout (`DHT_QUERY_TIMEOUT_MS`).' % fmt(extra, 0))
        else:
            v['dht_killed_extra_text'] = (
                'The kills cost no measurable time: a trial took %s ms %s after them (medians), within the noise '
                'of this run; dead nodes were not met on the lookups\' paths or cost less than the slow limit.'
                % (fmt(abs(extra), 0), 'more' if extra >= 0 else 'less'))
    if g('killed_ms_median', 'ours') and g('collect_ms_median', 'ours'):
        v['dht_killed_slowdown'] = times(g('killed_ms_median', 'ours'), g('collect_ms_median', 'ours'), 1)
    return '\n'.join(out)


# ---------------------------------------------------------------- rendezvous
def sec_rendezvous(recs, charts, v):
    out = []
    par = one(recs, 'param')
    sims = [x for x in kind(recs, 'sim', 'clients') if num(x['clients'])]
    if sims:
        rows = []
        for s in sims:
            c = num(s.get('clients'))
            rows.append([fmt(c, 0), s.get('swarm_nodes'), s.get('source_addresses'),
                         '%s%s' % (s.get('round_virtual_s'), '' if s.get('round_done') == '1' else ' (not done)'),
                         num(s.get('pub_cpu_s')), fmt(num(s.get('pub_datagrams')), 0),
                         fmt((num(s.get('pub_bytes')) or 0) / 1e6, 1),
                         '%s, %s' % (fmt(num(s.get('per_client_datagrams')), 0),
                                     fmt((num(s.get('per_client_bytes')) or 0) / 1e3, 1)),
                         fmt(num(s.get('pub_cpu_s')) * 1e3 / c, 1) if c and num(s.get('pub_cpu_s')) is not None else None,
                         '%s / %s' % (fmt(num(s.get('swarm_stored_peers')), 0), fmt(num(s.get('swarm_store_refused')), 0)),
                         num(s.get('busiest_node_rate_per_s')), num(s.get('sim_wall_s'))])
        out.append('**1. The server: one full publication round** (`bench_rendezvous CLIENTS 100 48`: '
                   'our dht/ nodes and mt6d/engine/pubsched.c in one process, virtual time):')
        out.append('')
        out.append(table(['clients', 'swarm', 'sources', 'round (virtual s)', 'publisher CPU s', 'datagrams',
                          'MB sent', 'per client: datagrams, kB', 'CPU ms per client', 'stored / refused by the swarm',
                          'busiest node: datagrams/s from us', 'wall s'], rows))
        out.append('')
        big = max(sims, key=lambda s: num(s.get('clients')) or 0)
        c = num(big.get('clients'))
        cpu = num(big.get('pub_cpu_s'))
        v['rdv_sim_clients'] = fmt(c, 0)
        v['rdv_sim_done'] = 'all of them' if big.get('round_done') == '1' else 'not all of them'
        v['rdv_sim_round'] = big.get('round_virtual_s')
        v['rdv_sim_round_text'] = ('was out in %s s of virtual time' % big.get('round_virtual_s')
                                   if big.get('round_done') == '1' else
                                   'was not complete at the end of the %s s window' % big.get('round_virtual_s'))
        v['rdv_sim_cpu'] = fmt_auto(cpu)
        if cpu is not None and c:
            v['rdv_cpu_ms_per_client'] = fmt(cpu * 1e3 / c, 1)
            v['rdv_cpu_share_900'] = fmt(100 * cpu / 900, 1, ' %')
            v['rdv_cpu_verdict'] = ('CPU is not the limit of the server' if cpu / 900 < 0.5
                                    else 'CPU is a limit of the server')
        v['rdv_per_client_dgrams'] = fmt(num(big.get('per_client_datagrams')), 0)
        v['rdv_per_client_kb'] = fmt((num(big.get('per_client_bytes')) or 0) / 1e3, 0)
        pb = num(big.get('pub_bytes'))
        if pb is not None:
            v['rdv_upstream_mbit'] = fmt(pb * 8 / 900 / 1e6, 1)
            v['rdv_bytes_gb'] = fmt(pb / 1e9, 2)
        v['rdv_stored'] = fmt(num(big.get('swarm_stored_peers')), 0)
        if num(big.get('swarm_store_refused')):
            v['rdv_refused'] = fmt(num(big.get('swarm_store_refused')), 0)
        elif num(big.get('swarm_store_refused')) == 0:
            v['rdv_none_refused'] = 'none'
        v['rdv_busiest_rate'] = fmt_auto(num(big.get('busiest_node_rate_per_s')))
        src = num(big.get('source_addresses'))
        if src and num(big.get('busiest_node_rate_per_s')) is not None:
            v['rdv_busiest_per_src'] = fmt_auto(num(big.get('busiest_node_rate_per_s')) / src)
        v['rdv_sources'] = fmt(src, 0)
        v['rdv_swarm'] = big.get('swarm_nodes')
    rounds = kind(recs, 'round', 'channel')
    if rounds:
        r0 = rounds[0]
        out.append('**The 15,000-client round in a simulated public DHT** (`bench_round -n %s -c %s`: %s foreign '
                   'nodes, %s jech-like and %s dead, the rest libtorrent-like, their limits enforced and counted '
                   '(tests/simdht.h); a fresh server\'s catch-up round, then %s sampled fetches by fresh clients; '
                   'every verdict computed by bench/rendezvous.sh from the run):'
                   % (r0.get('nodes'), r0.get('clients'), r0.get('nodes'), r0.get('jech_share'),
                      r0.get('dead_share'), r0.get('samples')))
        out.append('')
        rows = [[x.get('channel'), x.get('verdict_window'), x.get('verdict_fetch'), x.get('verdict_datagrams'),
                 x.get('verdict_trips'), fmt((num(x.get('per_client_bytes')) or 0) / 1e3, 1),
                 '%s, %s, %s' % (x.get('peak_src_count_10s'), x.get('peak_node_qps'), x.get('peak_node_out_bps')),
                 x.get('pub_cpu_s'), '%s of %s' % (x.get('clients_stored'), x.get('clients')),
                 '%s, %s' % (x.get('sim_cpu_s'), fmt((num(x.get('max_rss_kb')) or 0) / 1024, 0))]
                for x in rounds]
        out.append(table(['channel', 'round inside the window', 'fetches opened (>= 99 %)',
                          'datagrams per client (<= 300)', 'limits tripped (0)', 'kB per client',
                          'busiest node from us: msgs/10 s per source, queries/s, reply B/s', 'publisher CPU s',
                          'census: clients stored', 'sim CPU s, RSS MB'], rows))
        out.append('')
        met = [x.get('channel') for x in rounds
               if not any('missed' in (x.get(k) or 'missed')
                          for k in ('verdict_window', 'verdict_fetch', 'verdict_datagrams', 'verdict_trips'))]
        out.append('The round\'s targets (inside the window, >= 99 %% opened, <= 300 datagrams per client, no '
                   'limit tripped), all on one channel: %s.'
                   % ('met by ' + ', '.join(met) if met else 'missed on every channel'))
        out.append('')
    pubs = one(recs, 'lab_publish')
    fetches = {f['mode']: f for f in kind(recs, 'fetch', 'mode')}
    if fetches:
        out.append('**2. A fresh client, start to opened config**, %s trials per mode in a %s-node swarm of '
                   'ours; publisher: %s clients from %s source addresses, its catch-up round out in %s s:'
                   % (par.get('trials'), par.get('swarm'), pubs.get('clients', '?'), pubs.get('sources', '?'),
                      pubs.get('seconds', '?')))
        out.append('')
        rows = [['%s, %s' % (f.get('trials'), m), f.get('opened'),
                 '%s, %s' % (f.get('wall_p50') or '-', f.get('wall_p95') or '-'),
                 '%s, %s' % (f.get('fetch_p50') or '-', f.get('fetch_p95') or '-'), f.get('queries_p50') or '-']
                for m, f in fetches.items()]
        out.append(table(['trials, client address', 'opened', 'process wall ms: median, p95',
                          'fetch from its start ms: median, p95', 'DHT queries: median'], rows,
                         ['---', '---:', '---:', '---:', '---:']))
        out.append('')
        out.append('*same*: every trial on one address and UDP port, so the node a trial leaves in '
                   'others\' routing tables is answered by the next trial; *new*: a new address per trial, '
                   'so departed nodes pile up in routing tables as they do in the public DHT.')
        out.append('')
        img = charts.bars('rendezvous_fetch', 'Fresh client: start to opened config', 'ms (log)',
                          list(fetches), [('fetch median', [num(f.get('fetch_p50')) for f in fetches.values()]),
                                          ('fetch p95', [num(f.get('fetch_p95')) for f in fetches.values()]),
                                          ('process median', [num(f.get('wall_p50')) for f in fetches.values()])],
                          logscale=True)
        if img:
            out += [img, '']
        for m in ('same', 'new'):
            f = fetches.get(m)
            if not f:
                continue
            v['rdv_%s_opened' % m] = '%s of %s' % (f.get('opened'), f.get('trials'))
            v['rdv_%s_fetch_p50' % m] = fmt(num(f.get('fetch_p50')), 0)
            v['rdv_%s_fetch_p95' % m] = fmt(num(f.get('fetch_p95')), 0)
            v['rdv_%s_wall_p50' % m] = fmt(num(f.get('wall_p50')), 0)
            v['rdv_%s_queries' % m] = f.get('queries_p50') or None
            p50 = num(f.get('fetch_p50'))
            if p50 is not None:
                v['rdv_%s_target' % m] = 'met' if p50 < 1000 and f.get('opened') == f.get('trials') else 'not met'
        same, new = fetches.get('same'), fetches.get('new')
        if same and num(same.get('wall_p50')) is not None and num(same.get('fetch_p50')) is not None:
            # Process start, key file, join and exit: what the process adds
            # to the fetch itself, in a live swarm.
            v['rdv_process_ms'] = fmt(num(same['wall_p50']) - num(same['fetch_p50']), 0)
        if same and new and num(same.get('fetch_p50')) is not None and num(new.get('fetch_p50')) is not None:
            extra = num(new['fetch_p50']) - num(same['fetch_p50'])
            v['rdv_departed_ms'] = fmt(extra, 0)
            # DHT_QUERY_TIMEOUT_MS is 2 s, the slow limit at most 1 s.
            v['rdv_departed_verdict'] = (
                'at least one whole 2 s query timeout (`DHT_QUERY_TIMEOUT_MS`): departed nodes among the closest '
                'were waited out in full, as a build without the slow limit below does' if extra >= 2000 else
                'less than one 2 s query timeout (`DHT_QUERY_TIMEOUT_MS`): a departed node among the closest cost '
                'the slow limit below, not the whole timeout')
    lt = one(recs, 'lt')
    if lt:
        secs, cl = num(lt.get('seconds')), num(lt.get('clients'))
        out.append('**3. libtorrent nodes only** (%s nodes of python3-libtorrent 2.0.8), publisher on ONE '
                   'source address:' % lt.get('nodes'))
        out.append('')
        out.append(table(['clients', 'all published', 'time s', 'clients/s', 'fetches opened',
                          'publisher status at the end'],
                         [[lt.get('clients'), 'yes' if lt.get('published') == '1' else 'no', secs,
                           fmt(cl / secs, 3) if secs and cl else None,
                           '%s of %s' % (lt.get('fetches_opened'), lt.get('fetches')), lt.get('status')]],
                         ['---:', '---', '---:', '---:', '---:', '---']))
        out.append('')
        v['rdv_lt_nodes'] = lt.get('nodes')
        v['rdv_lt_clients'] = lt.get('clients')
        v['rdv_lt_seconds'] = fmt_auto(secs)
        if secs and cl:
            v['rdv_lt_rate'] = fmt(cl / secs, 3)
            v['rdv_lt_per_window'] = fmt(900 * cl / secs, 0)
        v['rdv_lt_opened'] = '%s of %s' % (lt.get('fetches_opened'), lt.get('fetches'))
        if lt.get('fetches_opened') != lt.get('fetches'):
            v['rdv_lt_some_failed'] = 'yes'
    swarms = kind(recs, 'swarm', 'kind')
    if swarms:
        out.append('**4. 8-node swarms, ours and foreign-only** (one node per host, no other DHT node; '
                   '`bench/rendezvous-swarm.sh`): a 230-byte put and its gets, the real mt6d-server with two '
                   'clients started together, then %s fresh clients after its publication; verdicts against '
                   'issue 15\'s targets, computed by the bench:' % par.get('fresh', '?'))
        out.append('')
        rows = []
        for w in swarms:
            rows.append(['%s/%s' % (w.get('kind', '?').split('/')[0], w.get('channel', 'both')),
                         '%s, %s' % (w.get('put_rc'), fmt((num(w.get('put_ms')) or 0) / 1e3, 1)),
                         '%s/%s, %s' % (w.get('gets_ok'), w.get('gets'), w.get('get_p50')),
                         '%s, %s' % (w.get('first1_ms'), w.get('first2_ms')),
                         '%s/%s, %s, %s' % (w.get('fresh_ok'), w.get('fresh'), w.get('fresh_p50'),
                                            w.get('fresh_p95')),
                         '%s, %s' % (w.get('max_msgs_10s'), w.get('max_bytes_1s')),
                         '%s, %s; %s' % (w.get('datagrams', '?'),
                                         fmt(num(w.get('bytes')) / 1e3, 1) if num(w.get('bytes')) is not None
                                         else '?', w.get('server_cpu_s', '?')),
                         ', '.join(w.get('verdict_' + k, '?') for k in ('get', 'first', 'fresh', 'rate'))])
        out.append(table(['swarm/channel', '230-byte put: exit, s', 'gets opened, median ms',
                          'first sessions ms from the server\'s start', 'fresh clients: up, median, p95 ms',
                          'busiest pair msgs/10 s, busiest node B/1 s',
                          'sent to the swarm: datagrams, kB; server CPU s',
                          'verdicts: get < 1 s, first <= 30 s, fresh p95 <= 5 s, rates'], rows))
        out.append('')
    return '\n'.join(out)


# ---------------------------------------------------------------- sessions
def sec_sessions(recs, charts, v):
    out = []
    # One param record per pass of sessions.sh: the first value of each key.
    par = {}
    for d in kind(recs, 'param'):
        for k, x in d.items():
            par.setdefault(k, x)
    v['sess_rot'] = par.get('rot')
    ss = kind(recs, 'sessions', 'clients')
    if ss:
        out += sessions_daemons(ss, par, charts, v)
    gs = [g for g in kind(recs, 'gen', 'sessions') if ival(g['sessions'])]
    if gs:
        out += sessions_generator(gs, par, charts, v)
    return '\n'.join(out)


def sessions_daemons(ss, par, charts, v):
    out = []
    rows = []
    for s in ss:
        last = num(s.get('up_last'))
        up = num(s.get('up'))
        rate = up * 1000 / last if up and last else None
        s['rate'] = rate
        rows.append([s.get('clients'), '%s/%s' % (s.get('up'), s.get('pinged')), num(s.get('up_p50')),
                     num(s.get('up_p95')), num(s.get('ping_p50')), num(s.get('ping_p95')), fmt(rate, 1),
                     s.get('rss_mib'), fmt(num(s.get('cpu_pct')), 2, ' %')])
    out.append('**1. One mt6d-client daemon per lab host.** Rot %s; all clients started at once; times from '
               'client start (ms); server memory and CPU over %s s of steady state with every session rotating:'
               % (par.get('rot'), par.get('seconds')))
    out.append('')
    out.append(table(['clients', 'up/pinged', 'session p50', 'session p95', 'first ping p50', 'first ping p95',
                      'sessions/s', 'server RSS (MiB)', 'server CPU'], rows))
    out.append('')
    img = charts.bars('sessions_setup', 'Sessions: time from client start (all clients at once)', 'ms',
                      [s.get('clients') + ' clients' for s in ss],
                      [('session up p50', [num(s.get('up_p50')) for s in ss]),
                       ('session up p95', [num(s.get('up_p95')) for s in ss]),
                       ('first ping p50', [num(s.get('ping_p50')) for s in ss]),
                       ('first ping p95', [num(s.get('ping_p95')) for s in ss])])
    if img:
        out += [img, '']
    big = max(ss, key=lambda s: num(s.get('clients')) or 0)
    v['sess_n_max'] = big.get('clients')
    v['sess_rss_max'] = big.get('rss_mib')
    v['sess_cpu_max'] = fmt(num(big.get('cpu_pct')), 2, ' %')
    v['sess_rate_max'] = fmt(big.get('rate'), 1)
    v['sess_up_p50_max'] = fmt(num(big.get('up_p50')), 0)
    if big.get('up') == big.get('clients') == big.get('pinged'):
        v['sess_all_up'] = ('Every client of the largest run came up and answered a ping through its session; '
                            'the median session was up %s ms after its client started.'
                            % fmt(num(big.get('up_p50')), 0))
    else:
        v['sess_all_up'] = ('**Not every client of the largest run came up**: of %s clients, %s had a session and %s '
                            'answered a ping through it.' % (big.get('clients'), big.get('up') or 0,
                                                             big.get('pinged') or 0))
    rates = [s['rate'] for s in ss if s.get('rate')]
    if rates:
        v['sess_rate_range'] = fmt(min(rates), 1) if len(rates) == 1 else '%s-%s' % (fmt(min(rates), 1), fmt(max(rates), 1))
    extra = [num(s.get('ping_p50')) - num(s.get('up_p50')) for s in ss
             if num(s.get('ping_p50')) is not None and num(s.get('up_p50')) is not None]
    if extra:
        e = min(extra) / 1000
        v['sess_ping_extra'] = fmt(e, 1)
        v['sess_ping_extra_text'] = (
            'The first ping came at least %s s after the session was up (medians)' % fmt(e, 1) if e >= 0.8 else
            'The first ping came within %s s of the session (medians), with no one-second wait' % fmt(max(e, 0), 1))
        if e >= 0.8:
            v['sess_ping_late'] = ''
    return out


# Keys of the rows of older runs (before the soak and the storm), renamed
# to those bench_sessions prints now.
GEN_OLD_KEYS = {'up_p50': 'up_ms_p50', 'up_p95': 'up_ms_p95', 'first_p50': 'first_ms_p50',
                'first_p95': 'first_ms_p95', 'up_last': 'last_up_ms'}
# The targets of the issue "15,000 clients on one server".
TARGET_N = 15000
TARGET_CPU = 25.0
TARGET_SOAK_S = 600


def gen_verdicts(gs, v):
    """Lines of computed verdicts, one per target and mode at TARGET_N
    sessions; a target not reached says by how much, one not run says so."""
    out = ['**Targets** (one server, %s concurrent sessions rotating every Rot; computed from the rows above):'
           % fmt(TARGET_N, 0), '']
    big = [g for g in gs if g['n'] >= TARGET_N]
    if not big:
        top = max(g['n'] for g in gs)
        line = ('not measured: the largest run had %s sessions (`BENCH_SCALE=full make bench` runs %s)'
                % (fmt(top, 0), fmt(TARGET_N, 0)))
        for t in ('%s sessions up' % fmt(TARGET_N, 0), 'steady-state server CPU under 25 % of one core',
                  'no session lost over 10 minutes', 'a re-key storm at %s sessions' % fmt(TARGET_N, 0)):
            out.append('- %s: %s.' % (t, line))
        v['gen_target_up'] = line
        return out + ['']
    met_up = []
    for g in big:
        n, up, first = g['n'], num(g.get('up')) or 0, num(g.get('first')) or 0
        lost, soak, cpu = num(g.get('lost')), num(g.get('soak_s')), num(g.get('cpu_pct'))
        who = '%s, %s' % (g['mode'], g['iface'])
        if up >= n and first >= n:
            up_t = 'met (%s of %s up, every one with its first byte)' % (fmt(up, 0), fmt(n, 0))
            met_up.append(who)
        else:
            up_t = 'missed: %s of %s up, %s with a first byte' % (fmt(up, 0), fmt(n, 0), fmt(first, 0))
            if num(g.get('server_nofile')):
                up_t += ' (the server\'s RLIMIT_NOFILE was %s)' % fmt(num(g['server_nofile']), 0)
        if cpu is None:
            cpu_t = 'not measured'
        elif cpu < TARGET_CPU:
            cpu_t = 'met (%s of one core over the soak, %s sessions held)' % (fmt(cpu, 2, ' %'), fmt(first, 0))
        else:
            cpu_t = 'missed: %s of one core over the soak' % fmt(cpu, 2, ' %')
        if first < n and cpu is not None and cpu < TARGET_CPU:
            cpu_t += ', but with %s sessions, not %s' % (fmt(first, 0), fmt(n, 0))
        if soak is None or lost is None:
            lost_t = 'not measured (no soak in this run)'
        elif lost > 0:
            lost_t = 'missed: %s of %s sessions lost over %s s' % (fmt(lost, 0), fmt(first, 0), fmt(soak, 0))
        elif soak < TARGET_SOAK_S:
            lost_t = ('not shown: the soak lasted %s s, not 10 minutes (none of %s lost in it)'
                      % (fmt(soak, 0), fmt(first, 0)))
        elif first < n:
            lost_t = 'missed: none lost over %s s, but only %s of %s sessions were up' % (
                fmt(soak, 0), fmt(first, 0), fmt(n, 0))
        else:
            lost_t = 'met (none of %s lost over %s s; pings answered: %s of %s)' % (
                fmt(n, 0), fmt(soak, 0), g.get('pings_answered', '-'), g.get('pings_sent', '-'))
        sc, sf = num(g.get('storm_clients')), num(g.get('storm_first'))
        if g.get('storm_seen') != '1' or sc is None:
            storm_t = 'not measured (no change of K seen by the clients)'
        else:
            figs = ('set-up p50 %s, p95 %s, p99 %s ms from the change of K, %s sessions/s, the server at %s of '
                    'one core' % (fmt(num(g.get('storm_up_ms_p50')), 0) or '-', fmt(num(g.get('storm_up_ms_p95')), 0) or '-',
                                  fmt(num(g.get('storm_up_ms_p99')), 0) or '-', fmt(num(g.get('storm_rate')), 1) or '-',
                                  fmt(num(g.get('storm_server_cpu_pct')), 2, ' %') or '-'))
            if sc and sf is not None and sf >= sc and sc >= n:
                storm_t = 'met: all %s handshook again and had a first byte (%s)' % (fmt(sc, 0), figs)
            else:
                storm_t = 'missed: %s of %s sessions of %s re-established with a first byte (%s)' % (
                    fmt(sf or 0, 0), fmt(sc, 0), fmt(n, 0), figs)
        out.append('- %s, %s sessions up: %s.' % (who, fmt(n, 0), up_t))
        out.append('- %s, steady-state server CPU under 25 %% of one core: %s.' % (who, cpu_t))
        out.append('- %s, no session lost over 10 minutes: %s.' % (who, lost_t))
        out.append('- %s, re-key storm: %s.' % (who, storm_t))
    v['gen_target_up'] = ('met in %s' % '; '.join(met_up)) if met_up else 'missed in every mode run'
    return out + ['']


def sessions_generator(gs, par, charts, v):
    """The rows of bench_sessions (N clients played by one process): the
    arrival, the soak, the storm, and the verdicts on the targets."""
    out = []
    for g in gs:
        for old, new in GEN_OLD_KEYS.items():
            if new not in g and old in g:
                g[new] = g[old]
        g['n'] = ival(g['sessions'])
        g['mode'] = g.get('mode') or 'per-address'
        g['iface'] = g.get('iface') or 'default'
        up, last = num(g.get('up')), num(g.get('last_up_ms'))
        g['rate_v'] = up * 1000 / last if up and last else num(g.get('rate'))
    gs.sort(key=lambda g: (g['mode'], g['iface'], g['n']))

    def ratio(a, b):
        return '%s/%s' % (g.get(a) or '-', g.get(b) or '-')
    rows = []
    for g in gs:
        gen = '-'
        if num(g.get('gen_cpu_pct')) is not None:
            gen = '%s, %s MiB' % (fmt(num(g.get('gen_cpu_pct')), 2, ' %'), g.get('gen_rss_mib', '-'))
        rows.append([g['mode'], g['iface'], fmt(g['n'], 0),
                     '%s/%s/%s' % (g.get('up') or '-', g.get('first') or '-', g.get('lost') or '-'),
                     num(g.get('up_ms_p50')), num(g.get('up_ms_p95')), num(g.get('first_ms_p95')),
                     fmt(g['rate_v'], 1), num(g.get('soak_s')), ratio('pings_answered', 'pings_sent'),
                     g.get('rss_mib'), fmt(num(g.get('cpu_pct')), 2, ' %'), gen])
    timeouts = set(g.get('timeout_s') for g in gs if g.get('timeout_s'))
    timeout = timeouts.pop() if len(timeouts) == 1 else None
    out.append('**2. N clients played by one process** (`bench_sessions`) against the real mt6d-server, every '
               'session rotating (Rot %s), by server address mode and session interface (*default*: the '
               'server\'s default). Times from the common start (ms); first byte: the first ICMPv6 echo answered '
               'through the session; clients without a session %s count as not up. Then a soak: every client '
               'keeps its session as mt6d-client does (a keepalive every 10 s, its sockets following the slots) '
               'and a sample of them is pinged through the session every %s s; lost: two pings in a row '
               'unanswered, or 35 s without a word from the server. Server CPU (share of one core) and memory '
               'over the soak; the generator\'s own CPU over the soak and its peak memory, on the same two cores:'
               % (par.get('rot'), 'after %s s' % timeout if timeout else 'by the end',
                  par.get('ping_interval') or '-'))
    out.append('')
    out.append(table(['mode', 'session interface', 'sessions', 'up/first byte/lost', 'set-up p50', 'set-up p95',
                      'first byte p95', 'sessions/s', 'soak s', 'pings answered/sent', 'server RSS (MiB)',
                      'server CPU (soak)', 'generator CPU, RSS'], rows,
                     ['---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:',
                      '---:']))
    out.append('')
    storms = [g for g in gs if g.get('storm_seen') == '1']
    if storms:
        out.append('**3. Re-key storm**: `mt6d rekey` on the server after the soak; every client with a session '
                   'handshakes again within %s ms of seeing the new introduction config, beside its old session '
                   '(make-before-break). Times from the change of K as the clients saw it (ms); sessions/s: '
                   're-established over the time to the last one; server CPU over the storm:'
                   % (par.get('storm_jitter_ms') or '-'))
        out.append('')
        out.append(table(['mode', 'session interface', 'sessions', 'new sessions/clients', 'first byte',
                          'set-up p50', 'set-up p95', 'set-up p99', 'first byte p95', 'sessions/s',
                          'server CPU (storm)'],
                         [[g['mode'], g['iface'], fmt(g['n'], 0), '%s/%s' % (g.get('storm_up', '-'),
                                                                             g.get('storm_clients', '-')),
                           g.get('storm_first', '-'), num(g.get('storm_up_ms_p50')), num(g.get('storm_up_ms_p95')),
                           num(g.get('storm_up_ms_p99')), num(g.get('storm_first_ms_p95')),
                           fmt(num(g.get('storm_rate')), 1), fmt(num(g.get('storm_server_cpu_pct')), 2, ' %')]
                          for g in storms],
                         ['---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:']))
        out.append('')
    out += gen_verdicts(gs, v)
    groups = list(dict.fromkeys((g['mode'], g['iface']) for g in gs))

    def label(m):
        return m[0] if m[1] == 'default' else '%s, %s' % m
    img = charts.lines('sessions_server_cost', 'Server with N rotating sessions (clients of bench_sessions)',
                       'sessions', 'server CPU (% of one core)',
                       [('CPU, %s' % label(m), [(g['n'], num(g.get('cpu_pct'))) for g in gs
                                                if (g['mode'], g['iface']) == m]) for m in groups] +
                       [('RSS MiB, %s' % label(m), [(g['n'], num(g.get('rss_mib'))) for g in gs
                                                    if (g['mode'], g['iface']) == m], 'y2')
                        for m in groups], y2label='server RSS (MiB)')
    if img:
        out += [img, '']
    img = charts.bars('sessions_gen_latency', 'N clients at once (bench_sessions): time from the start', 'ms (log)',
                      ['%s, %s' % (fmt(g['n'], 0), label((g['mode'], g['iface']))) for g in gs],
                      [('set-up p50', [num(g.get('up_ms_p50')) for g in gs]),
                       ('set-up p95', [num(g.get('up_ms_p95')) for g in gs]),
                       ('first byte p50', [num(g.get('first_ms_p50')) for g in gs]),
                       ('first byte p95', [num(g.get('first_ms_p95')) for g in gs])], logscale=True)
    if img:
        out += [img, '']
    gen_text_values(gs, par, v)
    return out


def gen_text_values(gs, par, v):
    """The values the analysis text cites, from the rows of the generator."""
    rot_s = num(par.get('rot'))
    pa = [g for g in gs if g['mode'] == 'per-address']
    whole = [g for g in pa if g.get('up') == g.get('first') == str(g['n'])]
    short = [g for g in pa if g not in whole]
    if whole:
        lo = whole[0]
        v['gen_lo_n'] = fmt(lo['n'], 0)
        v['gen_lo_up_p95'] = fmt(num(lo.get('up_ms_p95')), 0)
        v['gen_lo_rate'] = fmt(lo['rate_v'], 0)
        v['gen_lo_cpu'] = fmt(num(lo.get('cpu_pct')), 2, ' %')
        ok = whole[-1]
        v['gen_ok_n'] = fmt(ok['n'], 0)
        if ok is not lo:
            v['gen_ok_up_p95'] = fmt(num(ok.get('up_ms_p95')), 0)
        v['gen_ok_cpu'] = fmt(num(ok.get('cpu_pct')), 2, ' %')
        v['gen_ok_addrs'] = fmt(3 * ok['n'], 0)
        v['gen_ok_ops'] = fmt(2 * ok['n'], 0)
        if len(whole) > 1 and num(lo.get('cpu_pct')) and num(ok.get('cpu_pct')) is not None:
            ng = ok['n'] / lo['n']
            cg = num(ok.get('cpu_pct')) / num(lo.get('cpu_pct'))
            v['gen_n_growth'] = fmt(ng, 0) + 'x'
            v['gen_cpu_growth'] = fmt(cg, 0) + 'x'
            v['gen_cpu_verdict'] = ('faster than the sessions' if cg > 1.5 * ng else
                                    'about as fast as the sessions' if cg > ng / 1.5 else 'slower than the sessions')
    # The first byte after the set-up, whatever the gap: about a second is
    # the retry of the first echo (see the analysis); anything else says so.
    pairs = [g for g in (whole or pa) if num(g.get('first_ms_p95')) is not None
             and num(g.get('up_ms_p95')) is not None]
    if pairs:
        late = [g for g in pairs if 800 <= num(g['first_ms_p95']) - num(g['up_ms_p95']) <= 3000]
        g = (late or pairs)[0]
        gap = (num(g['first_ms_p95']) - num(g['up_ms_p95'])) / 1000
        figs = ('At %s sessions the first-byte p95 (%s ms) came %s s after the set-up p95 (%s ms)'
                % (fmt(g['n'], 0), fmt(num(g['first_ms_p95']), 0), fmt(gap, 1), fmt(num(g['up_ms_p95']), 0)))
        if late:
            v['gen_first_text'] = ('**The first byte about a second late.** %s: the generator\'s echo retry '
                                   '(every 1 s) for the clients whose first echo got no answer in time.' % figs)
            v['gen_first_late'] = ''  # the explanation below applies
        elif gap < 0.8:
            v['gen_first_text'] = ('**The first byte came with the set-up** in per-address mode: %s, less than '
                                   'the generator\'s 1 s echo retry.' % figs)
        else:
            v['gen_first_text'] = ('**The first byte came late** in per-address mode: %s, more than a retry of '
                                   'the first echo explains.' % figs)
    if short:
        f = short[0]
        v['gen_fail_n'] = fmt(f['n'], 0)
        v['gen_fail_up'] = fmt(num(f.get('up')), 0)
        v['gen_fail_first'] = fmt(num(f.get('first')), 0)
        v['gen_timeout'] = f.get('timeout_s') or None
        v['gen_fail_cpu'] = fmt(num(f.get('cpu_pct')), 2, ' %')
        if rot_s:
            v['gen_fail_ops_s'] = fmt(2 * f['n'] / rot_s, 0)
    top = max(pa, key=lambda g: num(g.get('server_sessions')) or num(g.get('up')) or 0) if pa else None
    if top:
        held = num(top.get('server_sessions')) or num(top.get('up'))
        rss = num(top.get('rss_kib'))
        if held and rss:
            v['gen_mem_n'] = fmt(held, 0)
            v['gen_mem_mib'] = fmt(rss / 1024, 0)
            v['gen_mem_kib_per'] = fmt(rss / held, 0)
            # A gigabyte for every thousand sessions would make memory a
            # concern on a small server; below that it is not the limit.
            v['gen_mem_verdict'] = ('Memory is not the limit' if rss / held < 1024 else
                                    'Memory is a limit on a small server')
    sc = [g for g in gs if g['mode'] == 'scale']
    if sc:
        t = sc[-1]
        v['gen_scale_n'] = fmt(t['n'], 0)
        v['gen_scale_up'] = '%s/%s' % (t.get('up'), t.get('first'))
        v['gen_scale_cpu'] = fmt(num(t.get('cpu_pct')), 2, ' %')
        v['gen_scale_up_p95'] = fmt(num(t.get('up_ms_p95')), 0)
        v['gen_scale_first_p95'] = fmt(num(t.get('first_ms_p95')), 0)
        v['gen_scale_rss'] = fmt(num(t.get('rss_mib')), 0)
        lo = sc[0]
        if lo is not t:
            v['gen_scale_lo_n'] = fmt(lo['n'], 0)
            v['gen_scale_lo_first_p95'] = fmt(num(lo.get('first_ms_p95')), 0)
            p95 = num(lo.get('first_ms_p95'))
            if p95 is not None:
                v['gen_scale_lo_first_verdict'] = (
                    'The first byte no longer waits for a retransmitted solicitation' if p95 < 1000 else
                    'The first byte still came late in scale mode')
    # The soak of the largest row of each mode, in words.
    soaks = []
    for m in dict.fromkeys((g['mode'], g['iface']) for g in gs):
        rows = [g for g in gs if (g['mode'], g['iface']) == m and num(g.get('soak_s')) is not None]
        if not rows:
            continue
        g = rows[-1]
        lost, held = num(g.get('lost')) or 0, num(g.get('soak_clients')) or num(g.get('first')) or 0
        soaks.append('%s (%s): %s of %s sessions lost over %s s, pings answered %s of %s, keepalives answered '
                     '%s of %s' % (m[0], m[1], fmt(lost, 0), fmt(held, 0), fmt(num(g['soak_s']), 0),
                                   g.get('pings_answered', '-'), g.get('pings_sent', '-'),
                                   g.get('keepalives_answered', '-'), g.get('keepalives', '-')))
    if soaks:
        v['gen_soak_text'] = '; '.join(soaks)
    # Descriptors: 4 per session in the server (a TUN or none, 3 slot
    # sockets) and in the generator (an introduction socket, 3 slot
    # sockets); sessions.sh raises RLIMIT_NOFILE for both.
    big = max(gs, key=lambda g: g['n'])
    v['gen_fd_n'] = fmt(big['n'], 0)
    v['gen_fd_need'] = fmt(4 * big['n'], 0)
    v['gen_fd_held'] = fmt(num(big.get('first')) or 0, 0)
    v['gen_target_n'] = fmt(TARGET_N, 0)


def sec_tun_cost(recs, charts, v):
    """One row per number of TUN devices, then the verdicts at the budget's
    count (measured or extrapolated, as tun_cost.sh says)."""
    del charts  # no chart: one table says it
    out = []
    par = one(recs, 'param')
    rows = []
    for d in sorted(kind(recs, 'tun', 'n'), key=lambda d: ival(d['n']) or 0):
        if d.get('failed'):
            rows.append([fmt(ival(d['n'])), 'failed', '', '', '', '', '', ''])
            continue
        rows.append([fmt(ival(d['n'])), fmt(num(d.get('create_s')), 1), fmt(num(d.get('create_per_1000_s')), 2),
                     fmt((num(d.get('mem_available_kib')) or 0) / 1024, 0),
                     fmt((num(d.get('slab_kib')) or 0) / 1024, 0), fmt(num(d.get('link_dump_s')), 3),
                     fmt(num(d.get('route_dump_s')), 3), fmt(num(d.get('delete_s')), 1)])
    if rows:
        out.append(table(['TUN devices', 'creation (s)', 'per 1,000 (s)', 'kernel memory (MiB)', 'slab (MiB)',
                          '`ip -o link` (s)', '`ip -6 route` (s)', 'deletion (s)'], rows))
        out.append('')
    ver = one(recs, 'verdict')
    if ver:
        n = ival(ver.get('n')) or 0
        out.append('At %s devices (%s):' % (fmt(n), ver.get('how', '?')))
        out.append('')
        out.append('- creation: %s s against a budget of %s s: **%s**' % (
            ver.get('create_s'), par.get('budget_create_s', '?'), ver.get('create_verdict')))
        out.append('- kernel memory: %s MiB against a budget of %s MiB: **%s**' % (
            ver.get('mem_mib'), par.get('budget_mem_mib', '?'), ver.get('mem_verdict')))
        out.append('- deleting them: %s s against a budget of %s s: **%s** (%s ms per device, spent in '
                   'close(): every session that ends blocks the loop that long)' % (
                       ver.get('delete_s'), par.get('budget_delete_s', '?'), ver.get('delete_verdict'),
                       ver.get('delete_per_device_ms')))
        out.append('')
        v['tun_budget_n'] = fmt(n)
    return '\n'.join(out)


SECTIONS = {'addr_bind': sec_addr_bind, 'tunnel': sec_tunnel, 'dht': sec_dht,
            'rendezvous': sec_rendezvous, 'sessions': sec_sessions, 'tun_cost': sec_tun_cost}

# One benchmark through bench/run.sh, so that its run.tsv names the run and
# `make bench-merge` can take its results in.
REPRODUCE = {
    'addr_bind': 'sudo BENCH_ONLY_SCRIPTS=addr_bind BIND_N="{bind_n}" ROT_S="{rot_s}" ROT_SECONDS={rot_seconds} '
                 'ROT_ADDR64_MAX={rot_addr64_max} PROXY_N="{proxy_n}" bench/run.sh',
    'tunnel': 'sudo BENCH_ONLY_SCRIPTS=tunnel BENCH_RUNS={tunnel_runs} BENCH_SECONDS={tunnel_seconds} bench/run.sh',
    'dht': 'sudo BENCH_ONLY_SCRIPTS=dht DHT_BENCH_OURS={dht_ours} DHT_BENCH_LT={dht_lt} DHT_BENCH_TRIALS={dht_trials} '
           'DHT_BENCH_LT_TRIALS={dht_lt_trials} bench/run.sh',
    'rendezvous': 'sudo BENCH_ONLY_SCRIPTS=rendezvous RDV_SIM_CLIENTS="{rdv_sim_clients}" TRIALS={rdv_trials} '
                  'N_SWARM={rdv_swarm} LT_NODES={rdv_lt_nodes} LT_CLIENTS={rdv_lt_clients} bench/run.sh',
    'tun_cost': 'sudo BENCH_ONLY_SCRIPTS=tun_cost BENCH_TUN_N="{tun_n}" bench/run.sh',
    'sessions_passes': 'sudo BENCH_ONLY_SCRIPTS=sessions BENCH_CLIENTS="{sess_clients}" SESS_SECONDS={sess_seconds} '
                       'BENCH_SESS_PASSES="{sess_passes}" BENCH_GEN_TIMEOUT={sess_gen_timeout} '
                       'BENCH_SOAK_SHORT={sess_soak_short} BENCH_PING_INTERVAL={sess_ping_interval} bench/run.sh',
    # Sizes of a run before the passes (no sess_passes): the script twice.
    'sessions': 'sudo BENCH_CLIENTS="{sess_clients}" BENCH_SESSIONS="{sess_sessions}" '
                'BENCH_GEN_TIMEOUT={sess_gen_timeout} BENCH_SECONDS={sess_seconds} bench/sessions.sh; '
                'sudo RESULTS_APPEND=1 BENCH_MODE=scale BENCH_CLIENTS="" BENCH_SESSIONS="{sess_scale_sessions}" '
                'BENCH_GEN_TIMEOUT={sess_gen_timeout} BENCH_SECONDS={sess_seconds} bench/sessions.sh',
}

LOAD_CAVEAT = ('The machine was shared with other jobs while the benchmarks ran, so a single absolute figure '
               'can be off by tens of percent; the ratios against the baselines, measured in the same run on '
               'the same machine moments apart, are what to read.')


def duration(s):
    s = int(s)
    return '%d min %02d s' % (s // 60, s % 60) if s >= 60 else '%d s' % s


def run_lines(r, several):
    """The list of one run: when, what, where, the load, its note; with
    several runs, also the benchmarks whose results it gave."""
    m, end = r['meta'], r['end']
    if not m:
        return ['- no `run` record: the run is unknown']
    out = ['- date: %s to %s (UTC); %s run%s%s' % (
        m.get('date'), end.get('date', '(unfinished)'), m.get('mode'),
        ', BENCH_SCALE=%s' % m['scale'] if several and m.get('scale') not in (None, '', 'default') else '',
        '' if m.get('mode') == 'full' else ' (BENCH_QUICK=1: small sizes, not the figures to quote)')]
    out.append('- commit: %s%s' % (m.get('commit'), ' with uncommitted changes' if m.get('dirty') == 'yes' else ''))
    out.append('- machine: %s cores (%s), %s GiB, Linux %s, %s, iproute2 %s' % (
        m.get('cores'), m.get('cpu'), m.get('mem_gib'), m.get('kernel'), m.get('os'), m.get('iproute2')))
    out.append('- load average at the start: %s; at the end: %s.%s' % (
        m.get('load_start'), end.get('load_end', '-'), '' if several else ' ' + LOAD_CAVEAT))
    if m.get('note'):
        out.append('- note: %s' % m['note'])
    if several:
        out.append('- benchmarks from this run: %s (%s of wall time)' % (
            ', '.join(r['benches']) or 'none',
            duration(sum(ival(b.get('seconds')) or 0 for b in r['benches'].values()))))
    return out


def run_section(runs, own, results):
    """Markdown of "The run" ("The runs" when the results were merged from
    several): each run, then one row per benchmark."""
    several = len(runs) > 1
    md = ['## The runs' if several else '## The run', '']
    if several:
        md += ['The figures come from %d runs of `bench/run.sh`, merged by `make bench-merge`: each '
               'benchmark\'s from the latest run merged that ran it. Each section below names its run.'
               % len(runs), '']
        for r in runs:
            md += ['### Run %d: %s' % (r['no'], run_label(r)), ''] + run_lines(r, True) + ['']
        md += [LOAD_CAVEAT, '']
    elif runs:
        md += run_lines(runs[0], False) + ['']
    else:
        md += ['No run.tsv in %s: the run is unknown.' % results, '']
    rows = []
    total = 0
    for name, _ in BENCHES:
        r = own.get(name)
        b = r['benches'].get(name) if r else None
        if b:
            total += ival(b.get('seconds')) or 0
            rows.append([name, duration(ival(b.get('seconds')) or 0),
                         'ok' if b.get('rc') == '0' else 'failed (exit %s)' % b.get('rc'),
                         '%s / %s' % (b.get('load_before'), b.get('load_after'))] +
                        (['run %d' % r['no']] if several else []))
        else:
            rows.append([name, '-', 'not run', '-'] + (['-'] if several else []))
    rows.append(['all', duration(total), '', ''] + ([''] if several else []))
    md.append(table(['benchmark', 'wall time', 'status', 'load average before / after'] + (['run'] if several else []),
                    rows, ['---', '---:', '---', '---:'] + (['---'] if several else [])))
    md.append('')
    md += ['Reproduce (as root, from the top of the tree):', '',
           '    make bench                 # deps, build, every benchmark, then this file (~50 min)',
           '    BENCH_SCALE=full make bench  # the same with sessions to 15,000 and a 10-minute soak (~100 min)',
           '    BENCH_QUICK=1 make bench   # small sizes (~15 min), to try it out; its report goes to',
           '                               # build/bench-results/PERFORMANCE.md, not here',
           '    make bench-merge           # after a run of some benchmarks (below): their results and',
           '                               # sections replaced here, every other one kept',
           '    make bench-report          # this file again from its raw results, docs/perf/results/*.tsv',
           '                               # (committed with it), no rerun', '']
    if not several and runs:
        md += ['This run: %s.' % run_mode(runs[0]['meta']), '']
    md += ['One benchmark alone, with the sizes of the run of its figures (of the latest run for one not '
           'measured), after `make all benches`; then `make bench-merge`:', '']
    last = runs[-1]['sizes'] if runs else {}
    for name, _ in BENCHES:
        sizes = dict(own[name]['sizes'] if name in own else last)
        sizes.setdefault('sess_gen_timeout', '120')
        key = 'sessions_passes' if name == 'sessions' and sizes.get('sess_passes') else name
        md.append('    ' + REPRODUCE[key].format_map(collections.defaultdict(str, sizes)))
    md.append('')
    return md


def report(results, out_md, chart_dir, analysis_dir, with_charts):
    runs = read_runs(results)
    own = bench_owners(runs)
    if runs and not own:
        # A run.tsv without bench records (a run stopped before its first
        # benchmark ended) is the run of every results file beside it.
        own = {name: runs[-1] for name, _ in BENCHES}
    several = len(runs) > 1
    charts = Charts(chart_dir, with_charts, out_md)
    unreadable = []
    md = ['# mt6d performance', '',
          '<!-- Generated by scripts/perf-report.py from the results of `make bench` '
          '(build/bench-results/). Do not edit by hand: the text is in docs/perf/analysis/, '
          'the numbers come from the run. -->', '']
    common = {}
    md.append(fill(open(os.path.join(analysis_dir, 'header.md'), encoding='utf-8').read(), common)
              if os.path.exists(os.path.join(analysis_dir, 'header.md')) else '')
    md.append('')
    md += run_section(runs, own, results)
    for name, title in BENCHES:
        # A benchmark's results are those of the run that lists it; a file
        # no run lists (left from an earlier run in the same directory) is
        # no run's.
        r = own.get(name)
        recs = read_tsv(os.path.join(results, name + '.tsv')) if r else []
        md.append('## ' + title)
        md.append('')
        if r and r['meta']:
            md.append('*Figures from %s: %s.*' % ('run %d' % r['no'] if several else 'the run', run_label(r)))
            md.append('')
        v = {}
        intro = fragment(analysis_dir, name + '.intro', v)
        try:
            body = SECTIONS[name](recs, charts, v) if recs else ''
        except (KeyError, ValueError, TypeError, ZeroDivisionError) as e:
            # Never a traceback instead of a report: say which results are bad.
            body, v = '', {}
            unreadable.append('%s: %s: %s' % (name, type(e).__name__, e))
            md.append('*The results of this benchmark could not be read (%s: %s).*' % (type(e).__name__, e))
            md.append('')
        b = r['benches'].get(name) if r else None
        if b and b.get('rc') != '0':
            md.append('**This benchmark failed in this run (exit %s)**; what it recorded before failing is '
                      'below.' % b.get('rc'))
            md.append('')
        if intro:
            md += [intro, '']
        if not body:
            md.append('*Not measured in %s.*' % ('any of these runs' if several and not r else 'this run'))
            md.append('')
            continue
        md += ['### Results', '', body, '']
        text = fragment(analysis_dir, name, v)
        if text:
            md += [text, '']
    # Whether the charts could be drawn goes to stderr, not into the
    # report: it is a function of the results alone.
    if charts.failed:
        print('perf-report: charts that gnuplot could not draw: ' + '; '.join(charts.failed), file=sys.stderr)
    if with_charts and not charts.enabled:
        print('perf-report: no charts drawn: gnuplot is not installed (`scripts/install-deps.sh bench`)',
              file=sys.stderr)
    text = '\n'.join(md).rstrip('\n') + '\n'
    text = re.sub(r'\n{3,}', '\n\n', text)
    os.makedirs(os.path.dirname(os.path.abspath(out_md)), exist_ok=True)
    with open(out_md, 'w', encoding='utf-8') as f:
        f.write(text)
    charts.failed += unreadable
    # A chart of an earlier run that this one did not draw (a part not run)
    # would be stale, and `make install` ships every PNG here: removed.
    if charts.enabled and not charts.failed:
        made = set(os.path.abspath(p) for p in charts.made)
        for f in os.listdir(chart_dir):
            p = os.path.abspath(os.path.join(chart_dir, f))
            if f.endswith('.png') and p not in made:
                os.remove(p)
    return charts


def main():
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # The raw results behind the committed report are committed beside it
    # (docs/perf/results/), and the report is written from them: `make
    # bench-report` regenerates it byte for byte (tests/cli/
    # t_perf_committed.sh checks it).
    committed = os.path.join(top, 'docs', 'perf', 'results')
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--results', default=os.path.join(top, 'build', 'bench-results'))
    ap.add_argument('--merge', nargs='?', const=os.path.join(top, 'build', 'bench-results'), metavar='DIR',
                    help='merge the run in DIR (default build/bench-results) into --into, then write the '
                         'report of --into')
    ap.add_argument('--into', default=committed, metavar='DIR',
                    help='the results behind the report, where runs are merged (default docs/perf/results)')
    ap.add_argument('--check', action='store_true',
                    help='write nothing: exit 1 unless the report from --results is --out byte for byte')
    ap.add_argument('--out')
    ap.add_argument('--charts')
    ap.add_argument('--analysis', default=os.path.join(top, 'docs', 'perf', 'analysis'))
    ap.add_argument('--no-charts', action='store_true')
    a = ap.parse_args()
    if a.merge is not None and a.check:
        ap.error('--merge writes; --check compares (use --results DIR --check after the merge)')
    src = a.merge if a.merge is not None else a.results
    if not os.path.exists(os.path.join(src, 'run.tsv')):
        print('perf-report: no %s/run.tsv: run `make bench` (or bench/run.sh) first'
              % src, file=sys.stderr)
        return 1
    # Only a full run may replace the committed report; the results of a
    # BENCH_QUICK=1 run go next to themselves unless told otherwise.
    full = one(read_tsv(os.path.join(src, 'run.tsv')), 'run').get('mode') == 'full'
    if a.out is None:
        if a.merge is not None:
            a.out = os.path.join(top, 'docs', 'PERFORMANCE.md') if os.path.abspath(a.into) == committed else \
                os.path.join(a.into, 'PERFORMANCE.md')
        else:
            a.out = os.path.join(top, 'docs', 'PERFORMANCE.md') if full else \
                os.path.join(a.results, 'PERFORMANCE.md')
    if a.charts is None:
        a.charts = os.path.join(os.path.dirname(os.path.abspath(a.out)), 'perf')
    if a.check:
        with tempfile.TemporaryDirectory() as tmp:
            again = os.path.join(tmp, os.path.basename(a.out))
            rel = os.path.relpath(a.charts, os.path.dirname(os.path.abspath(a.out)))
            report(a.results, again, os.path.join(tmp, rel), a.analysis, False)
            with open(again, 'rb') as f1, open(a.out, 'rb') as f2:
                same = f1.read() == f2.read()
        print('perf-report: %s %s the report of %s' % (a.out, 'is' if same else 'is NOT', a.results),
              file=sys.stderr if not same else sys.stdout)
        return 0 if same else 1
    # The committed report is written from the committed results, into
    # which the run is merged first: a run of some benchmarks replaces
    # theirs and keeps every other one's (a full make bench replaces all).
    if a.merge is not None or (os.path.abspath(a.out) == os.path.join(top, 'docs', 'PERFORMANCE.md') and
                               os.path.abspath(a.results) != os.path.abspath(a.into)):
        try:
            names = merge_results(src, a.into)
        except (MergeError, OSError) as e:
            print('perf-report: not merged: %s' % e, file=sys.stderr)
            return 1
        print('perf-report: merged %s from %s into %s' % (', '.join(names), src, a.into))
        a.results = a.into
    charts = report(a.results, a.out, a.charts, a.analysis, not a.no_charts)
    print('perf-report: wrote %s (%d charts%s)' % (a.out, len(charts.made),
                                                  ', %d failed' % len(charts.failed) if charts.failed else ''))
    return 1 if charts.failed else 0


if __name__ == '__main__':
    sys.exit(main())
