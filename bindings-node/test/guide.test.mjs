// The guide's examples, run as they are: every ```js block of docs/node.md and the ```js block of
// README.md's Node section is a complete ES module, run by `node` in a scratch project whose
// node_modules/export-core is this package (so `import ... from 'export-core'` resolves to its
// main, export-core.js) beside the package's devDependencies (apache-arrow, exceljs, ...).
// One subtest per block, named by its heading; a failing block fails with the child's stderr.
// Blocks marked ```js no-run are shown, not run.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const root = resolve(pkg, '..')
/** Longest run of one block. */
const TIMEOUT_MS = 120_000

/**
 * Blocks that document the API as declared (export-core.d.ts) but fail on a known bug of the
 * binding, by heading: the block must fail, with stderr matching `fails` (the bug's own
 * symptom, not any failure) or, for `fails: 'timeout'`, by not exiting within
 * KNOWN_BUG_TIMEOUT_MS; the subtest says so in a diagnostic. A block that passes fails
 * its subtest: the bug is fixed, remove its entry and the block runs as any other.
 */
// Blocks that fail because of a bug not fixed yet: each must fail as described, and the run
// fails once it passes, so that the entry is removed. None now.
const KNOWN_BUGS = {}
const KNOWN_BUG_TIMEOUT_MS = 15_000

/**
 * The fenced blocks of `markdown` (from line `from` to line `to`, 1-based, inclusive): their
 * info string, code, first line and the heading they are under.
 */
function fencedBlocks(markdown, { from = 1, to = Infinity } = {}) {
  const lines = markdown.split('\n')
  const blocks = []
  let heading = null
  let open = null
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1
    const line = lines[i]
    if (open) {
      if (/^```\s*$/.test(line)) {
        if (n >= from && open.line <= to) blocks.push(open)
        open = null
      } else {
        open.code += line + '\n'
      }
      continue
    }
    const fence = /^```(.*)$/.exec(line)
    if (fence) {
      open = { info: fence[1].trim(), code: '', line: n + 1, heading }
      continue
    }
    const h = /^#{1,6}\s+(.*)$/.exec(line)
    if (h) heading = h[1].trim()
  }
  assert.equal(open, null, 'an unclosed code fence')
  return blocks
}

/** Blocks to run: info `js` (`js no-run` is shown only). */
const runnable = (blocks) => blocks.filter((b) => b.info.split(/\s+/)[0] === 'js' && !/\bno-run\b/.test(b.info))

/** The lines of README.md's `## Node` section. */
function nodeSection(readme) {
  const lines = readme.split('\n')
  const start = lines.findIndex((l) => /^## Node\b/.test(l))
  assert.ok(start >= 0, 'README.md has a `## Node` section')
  let end = lines.findIndex((l, i) => i > start && /^## /.test(l))
  if (end < 0) end = lines.length
  return { from: start + 1, to: end }
}

/** A scratch project: node_modules/export-core is this package, beside its devDependencies. */
function scratchProject() {
  const dir = mkdtempSync(join(tmpdir(), 'export-core-guide-test-'))
  const modules = join(dir, 'node_modules')
  mkdirSync(modules)
  symlinkSync(pkg, join(modules, 'export-core'), 'dir')
  for (const name of readdirSync(join(pkg, 'node_modules'))) {
    if (name === 'export-core' || name.startsWith('.')) continue
    symlinkSync(join(pkg, 'node_modules', name), join(modules, name))
  }
  mkdirSync(join(dir, 'tmp'))
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'guide-examples', private: true, type: 'module' }))
  return dir
}

/** Runs `file` with node in `cwd`: its exit code (null on a timeout), stdout and stderr. */
function runNode(file, cwd, timeout) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [file], {
      cwd,
      // The examples' temporary directories go inside the scratch project, removed after the run.
      env: { ...process.env, NODE_PATH: join(pkg, 'node_modules'), RUST_BACKTRACE: '0', TMPDIR: join(cwd, 'tmp') },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeout)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolvePromise({ code: timedOut ? null : code, signal, stdout, stderr, timedOut })
    })
  })
}

/** The addon being rebuilt by someone else: worth a second try after a pause. */
const addonMissing = (stderr) =>
  /Cannot find native binding|Failed to load native binding|file too short|invalid ELF header|cannot open shared object/.test(stderr)

const guidePath = join(root, 'docs', 'node.md')
const readmePath = join(root, 'README.md')
const guide = readFileSync(guidePath, 'utf8')
const readme = readFileSync(readmePath, 'utf8')
const guideBlocks = runnable(fencedBlocks(guide)).map((b) => ({ ...b, source: 'docs/node.md' }))
const readmeBlocks = runnable(fencedBlocks(readme, nodeSection(readme))).map((b) => ({ ...b, source: 'README.md' }))

test('the guide and the README have examples to run', () => {
  assert.ok(guideBlocks.length >= 20, `docs/node.md has ${guideBlocks.length} runnable js blocks`)
  assert.equal(readmeBlocks.length, 1, 'README.md\'s Node section has one js block')
  for (const b of [...guideBlocks, ...readmeBlocks]) {
    assert.match(b.code, /from 'export-core'/, `${b.source}:${b.line} imports export-core`)
  }
  for (const heading of Object.keys(KNOWN_BUGS)) {
    assert.ok(guideBlocks.some((b) => b.heading === heading), `a known bug names a heading of the guide: ${heading}`)
  }
})

test('the examples run', async (t) => {
  const dir = scratchProject()
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const seen = new Map()
  for (const [i, block] of [...guideBlocks, ...readmeBlocks].entries()) {
    const heading = block.heading ?? '(no heading)'
    const count = (seen.get(`${block.source}#${heading}`) ?? 0) + 1
    seen.set(`${block.source}#${heading}`, count)
    const name = `${block.source}: ${heading}${count > 1 ? ` (${count})` : ''}`
    const known = block.source === 'docs/node.md' ? KNOWN_BUGS[heading] : undefined
    await t.test(known ? `${name} [known bug]` : name, async (st) => {
      const file = join(dir, `block-${String(i + 1).padStart(2, '0')}.mjs`)
      writeFileSync(file, block.code)
      const timeout = known ? KNOWN_BUG_TIMEOUT_MS : TIMEOUT_MS
      let run = await runNode(file, dir, timeout)
      if (run.code !== 0 && addonMissing(run.stderr)) {
        await new Promise((r) => setTimeout(r, 30_000))
        run = await runNode(file, dir, timeout)
      }
      const where = `${block.source}:${block.line}`
      if (known) {
        assert.notEqual(run.code, 0, `${where} passes: the known bug (${known.bug}) is fixed, remove its KNOWN_BUGS entry`)
        if (known.fails === 'timeout') {
          assert.ok(run.timedOut, `${where} exits (${run.code}) instead of hanging, not the known bug's symptom:\n${run.stderr}`)
        } else {
          assert.equal(run.timedOut, false, `${where}: no exit after ${timeout / 1000} s`)
          assert.match(run.stderr, known.fails, `${where} fails, but not with the known bug's symptom:\n${run.stderr}`)
        }
        st.diagnostic(`known bug: ${known.bug}`)
        return
      }
      if (run.timedOut) assert.fail(`${where}: no exit after ${timeout / 1000} s\n${run.stderr}`)
      assert.equal(run.code, 0, `${where} exited with ${run.code ?? run.signal}:\n${run.stderr}`)
    })
  }
})
