// The package as a user gets it: `npm pack` here, `npm install <tarball>` in a scratch project,
// then README.md's Node example run there with node. The tarball holds the public API
// (export-core.js/.d.ts), the generated loader (index.js/.d.ts) and the addon, nothing of the
// sources or the tests.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const root = resolve(pkg, '..')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
/** Enough for the addon's ~150 MB (30 MB packed) on a slow, shared machine. */
const TIMEOUT_MS = 600_000
const opts = (cwd) => ({ cwd, maxBuffer: 64 * 1024 * 1024, timeout: TIMEOUT_MS, env: { ...process.env, RUST_BACKTRACE: '0' } })

/** The code of the one ```js block of README.md's `## Node` section. */
function readmeExample() {
  const lines = readFileSync(join(root, 'README.md'), 'utf8').split('\n')
  const start = lines.findIndex((l) => /^## Node\b/.test(l))
  assert.ok(start >= 0, 'README.md has a `## Node` section')
  let end = lines.findIndex((l, i) => i > start && /^## /.test(l))
  if (end < 0) end = lines.length
  const blocks = []
  for (let i = start + 1; i < end; i++) {
    if (!/^```js\s*$/.test(lines[i])) continue
    const body = []
    for (i++; i < end && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i])
    blocks.push(body.join('\n') + '\n')
  }
  assert.equal(blocks.length, 1, "README.md's Node section has one ```js block")
  return blocks[0]
}

test('npm pack: the tarball installs offline and runs the README example', { timeout: TIMEOUT_MS }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'export-core-pack-'))
  t.after(() => rmSync(work, { recursive: true, force: true }))
  const dest = join(work, 'dist')
  const app = join(work, 'scratch-app')
  for (const d of [dest, app]) mkdirSync(d)

  const packed = await run(npm, ['pack', '--json', '--pack-destination', dest, '--loglevel=error'], opts(pkg))
  const [info] = JSON.parse(packed.stdout)
  const tarball = join(dest, info.filename)
  assert.equal(info.name, 'export-core')

  await t.test('the tarball holds the API, the loader and the addon, no sources or tests', async () => {
    const listing = await run('tar', ['-tzf', tarball], opts(work))
    const files = listing.stdout.split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''))
    for (const f of ['package.json', 'export-core.js', 'export-core.d.ts', 'index.js', 'index.d.ts']) {
      assert.ok(files.includes(f), `${f} is in the tarball (${files.join(', ')})`)
    }
    assert.ok(files.some((f) => /^export-core\.[\w-]+\.node$/.test(f)), `an addon (.node) is in the tarball (${files.join(', ')})`)
    const stray = files.filter((f) => /^(src|test|node_modules|examples)\//.test(f) || /\.(rs|mjs)$/.test(f) || f === 'Cargo.toml')
    assert.deepEqual(stray, [], 'nothing of src/, test/, examples/ or the crate')
    assert.deepEqual(info.files.map((f) => f.path).sort(), [...files].sort(), "npm's own list is the tarball's")
    // The public API points at packed files.
    const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'))
    assert.ok(files.includes(manifest.main), `main (${manifest.main}) is packed`)
    assert.ok(files.includes(manifest.types), `types (${manifest.types}) is packed`)
  })

  await t.test('installed in a scratch project, the README example runs', async () => {
    await run(npm, ['init', '-y', '--loglevel=error'], opts(app))
    const install = ['install', tarball, '--no-audit', '--no-fund', '--loglevel=error']
    try {
      await run(npm, [...install, '--offline'], opts(app))
    } catch (err) {
      // The package has no runtime dependencies: offline should do. Should it not, try online once.
      t.diagnostic(`npm install --offline failed, retrying online: ${err.stderr || err.message}`)
      await run(npm, install, opts(app))
    }
    const installed = join(app, 'node_modules', 'export-core')
    assert.equal(lstatSync(installed).isSymbolicLink(), false, 'a copy from the tarball, not a link to the sources')
    const deps = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')).dependencies
    assert.ok(deps && deps['export-core'], 'export-core is a dependency of the scratch project')

    writeFileSync(join(app, 'example.mjs'), readmeExample())
    const example = await run(process.execPath, ['example.mjs'], opts(app)).catch((err) => {
      assert.fail(`the README example exited with ${err.code}:\n${err.stderr}`)
    })
    assert.match(example.stdout, /^2 rows in /)
  })
})
