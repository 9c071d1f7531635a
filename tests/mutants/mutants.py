#!/usr/bin/env python3
"""The gradient checker's own mutation score (make mutants).

Each line of mutations.txt breaks one backward (or the shared unbroadcast and reduction
kernels) in one way. For every line, in a scratch copy of this tree, the mutation is applied,
mytorch-gradcheck is rebuilt (only the changed object is recompiled) and run with its defaults,
and the mutation is *caught* when the run fails. A line marked `equivalent: REASON` computes the
same gradients (or differs only where finite differences cannot look); it must survive.

Prints one line per mutation and the score; exits 0 when every mutation that is not
equivalent is caught and every equivalent one survives, 1 otherwise, 2 when the table or the
scratch build is broken.

    tests/mutants/mutants.py [--jobs N] [--keep] [--only SUBSTRING] [--table FILE]
                             [--gradcheck-args=ARGS]

--gradcheck-args=ARGS runs the checker with other options, for comparison: '--no-local-grad'
(finite differences alone), '--pytorch-tolerances --no-local-grad' (PyTorch's gradcheck).
"""

import argparse
import concurrent.futures
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# what the scratch tree needs to build the checker: the working tree's files as they are now
# (uncommitted changes included), not a commit
COPY = ["src", "include", "gradcheck", "Makefile", os.path.join("viewer", "viewer.mk")]
BUILD = "build"
PROGRAM = os.path.join(BUILD, "bin", "mytorch-gradcheck")
LIBRARY = os.path.join(BUILD, "libmytorch.a")
RUN_TIMEOUT = 60

# file  class  `find`  `replace`  [equivalent: reason]
LINE = re.compile(r"^(\S+)\s+(\S+)\s+`([^`]*)`\s+`([^`]*)`\s*(.*)$")


class Mutation:
    def __init__(self, lineno, path, kind, find, replace, note):
        self.lineno, self.path, self.kind = lineno, path, kind
        self.find = find.replace("\\n", "\n")
        self.replace = replace.replace("\\n", "\n")
        self.equivalent = None
        if note:
            if not note.startswith("equivalent:"):
                raise ValueError("the last column must be 'equivalent: REASON' or nothing")
            self.equivalent = note[len("equivalent:"):].strip()
            if not self.equivalent:
                raise ValueError("an equivalent mutation needs its reason")

    def label(self):
        return "#%d %s %s%s" % (self.lineno, os.path.basename(self.path), self.kind,
                               " (equivalent)" if self.equivalent else "")


def read_table(path):
    muts, errors = [], []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = LINE.match(line)
            if not m:
                errors.append("%s:%d: not `file class `find` `replace` [equivalent: reason]`"
                              % (path, lineno))
                continue
            try:
                muts.append(Mutation(lineno, *m.groups()))
            except ValueError as e:
                errors.append("%s:%d: %s" % (path, lineno, e))
    for mu in muts:
        src = os.path.join(ROOT, mu.path)
        if not os.path.isfile(src):
            errors.append("%s:%d: no file %s" % (path, mu.lineno, mu.path))
            continue
        text = open(src, encoding="utf-8").read()
        n = text.count(mu.find)
        if n != 1:
            errors.append("%s:%d: the text to find occurs %d times in %s (it must occur once)"
                          % (path, mu.lineno, n, mu.path))
        if mu.find == mu.replace:
            errors.append("%s:%d: the replacement is the text itself" % (path, mu.lineno))
    return muts, errors


def run(cmd, cwd, timeout=None):
    return subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout)


def object_of(path):
    return os.path.join(BUILD, "obj", os.path.splitext(path)[0] + ".o")


class Worker:
    """A scratch tree with the checker built; applies one mutation at a time and puts every
    file it touched back as it was (contents and times), so make rebuilds only what changed."""

    def __init__(self, tree, args):
        self.tree = tree
        self.args = args
        self.pristine = {}

    def save(self, rel):
        if rel not in self.pristine:
            dst = os.path.join(self.tree, ".pristine", rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(os.path.join(self.tree, rel), dst)
            self.pristine[rel] = dst

    def restore(self, rel):
        shutil.copy2(self.pristine[rel], os.path.join(self.tree, rel))

    def try_mutation(self, mu):
        touched = [mu.path, object_of(mu.path), LIBRARY, PROGRAM]
        for rel in touched:
            self.save(rel)
        src = os.path.join(self.tree, mu.path)
        text = open(src, encoding="utf-8").read()
        try:
            with open(src, "w", encoding="utf-8") as f:
                f.write(text.replace(mu.find, mu.replace, 1))
            os.utime(src, None)                     # newer than its object
            b = run(["make", "-s", "BUILD=" + BUILD, PROGRAM], self.tree)
            if b.returncode != 0:
                return "build failed", b.stdout.strip().splitlines()[-3:]
            try:
                r = run([os.path.join(".", PROGRAM)] + self.args, self.tree, timeout=RUN_TIMEOUT)
            except subprocess.TimeoutExpired:
                return "caught (timed out)", []
            fails = [l.split()[:2] for l in r.stdout.splitlines() if l.endswith(" FAIL")]
            what = ["%s %s" % (a, b) for a, b in fails]
            if r.returncode == 0:
                return "survived", []
            if r.returncode == 1:
                return "caught", what
            return "caught (crashed, status %d)" % r.returncode, what
        finally:
            for rel in touched:
                self.restore(rel)


def prepare(scratch, jobs, gc_args):
    first = os.path.join(scratch, "w0")
    os.makedirs(first)
    for rel in COPY:
        src, dst = os.path.join(ROOT, rel), os.path.join(first, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.isdir(src):
            shutil.copytree(src, dst, symlinks=True)
        else:
            shutil.copy2(src, dst)
    t0 = time.time()
    b = run(["make", "-s", "-j%d" % jobs, "BUILD=" + BUILD, PROGRAM], first)
    if b.returncode != 0:
        sys.exit("mutants: the unmutated scratch tree does not build:\n" + b.stdout)
    r = run([os.path.join(".", PROGRAM)] + gc_args, first)
    if r.returncode != 0:
        sys.exit("mutants: gradcheck fails on the unmutated tree; fix that first:\n" + r.stdout)
    print("scratch tree %s built and checked in %.1f s" % (scratch, time.time() - t0))
    trees = [first]
    for k in range(1, jobs):
        dst = os.path.join(scratch, "w%d" % k)
        shutil.copytree(first, dst, symlinks=True)      # copy2: times kept, nothing rebuilds
        trees.append(dst)
    return [Worker(t, gc_args) for t in trees]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2, help="mutants built and run at once (2)")
    ap.add_argument("--table", default=os.path.join(HERE, "mutations.txt"))
    ap.add_argument("--only", default="", help="only the lines whose file or class has this")
    ap.add_argument("--keep", action="store_true", help="keep the scratch tree")
    ap.add_argument("--gradcheck-args", default="", help="options for every gradcheck run")
    args = ap.parse_args()

    muts, errors = read_table(args.table)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 2
    muts = [m for m in muts if args.only in m.path or args.only in m.kind]
    scratch = tempfile.mkdtemp(prefix="mytorch-mutants-")
    t0 = time.time()
    try:
        workers = prepare(scratch, max(1, args.jobs), shlex.split(args.gradcheck_args))
        free = list(workers)
        lock = threading.Lock()
        results = [None] * len(muts)

        def one(i):
            with lock:
                w = free.pop()
            try:
                results[i] = w.try_mutation(muts[i])
            finally:
                with lock:
                    free.append(w)
            status, what = results[i]
            mu = muts[i]
            ok = status.startswith("caught") != bool(mu.equivalent)
            with lock:
                print("%-4s %-28s %-44s %s%s" % ("ok" if ok else "BAD", status,
                      mu.label(), ", ".join(what[:2]), " (+%d)" % (len(what) - 2)
                      if len(what) > 2 else ""), flush=True)

        with concurrent.futures.ThreadPoolExecutor(max_workers=len(workers)) as pool:
            list(pool.map(one, range(len(muts))))
    finally:
        if args.keep:
            print("scratch tree kept in", scratch)
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    equiv = [m for m in muts if m.equivalent]
    real = [i for i, m in enumerate(muts) if not m.equivalent]
    caught = [i for i in real if results[i][0].startswith("caught")]
    crashed = [i for i in caught if "crashed" in results[i][0] or "timed" in results[i][0]]
    survived = [i for i in real if results[i][0] == "survived"]
    broken = [i for i, m in enumerate(muts) if results[i][0] == "build failed"]
    equiv_caught = [i for i, m in enumerate(muts) if m.equivalent
                    and results[i][0].startswith("caught")]
    print()
    print("%d mutations (%d equivalent) in %.0f s%s" % (len(muts), len(equiv), time.time() - t0,
          ", gradcheck " + args.gradcheck_args if args.gradcheck_args else ""))
    print("caught %d of the %d that are not equivalent (%d of them by crashing), survived %d"
          % (len(caught), len(real), len(crashed), len(survived)))
    for i in survived:
        print("  SURVIVED: %s: %s `%s` -> `%s`" % (muts[i].label(), muts[i].path, muts[i].find,
                                                 muts[i].replace))
    for i in equiv_caught:
        print("  an equivalent mutation was caught (the table is wrong): %s" % muts[i].label())
    for i in broken:
        print("  did not build: %s: %s" % (muts[i].label(), " / ".join(results[i][1])))
    print("equivalent, and survived as they must: %d of %d"
          % (len(equiv) - len(equiv_caught), len(equiv)))
    for m in equiv:
        print("  %s: %s" % (m.label(), m.equivalent))
    return 0 if not survived and not equiv_caught and not broken else 1


if __name__ == "__main__":
    sys.exit(main())
