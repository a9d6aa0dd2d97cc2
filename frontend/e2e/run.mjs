// End-to-end tests of the web UI in Debian's Chromium (playwright-core)
// against a real `watershed demo` on a free loopback port.
//
//   node e2e/run.mjs            builds ../cmd/watershed, runs every test
//   WATERSHED_BIN=… node e2e/run.mjs   uses that binary
//   CHROMIUM=/path node e2e/run.mjs    another Chromium
//
// Screenshots go to test-results/ (a CI artefact). Prints "N passed, N failed".
import { mkdirSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { tests } from './tests.mjs'
import { freePort, buildBinary, startDemo, launch } from './harness.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const out = join(here, '..', 'test-results')
mkdirSync(out, { recursive: true })
const require = createRequire(import.meta.url)
const axePath = require.resolve('axe-core/axe.min.js')

/** axe checks the page for WCAG 2 A/AA violations (labels, contrast, roles…). */
async function axe(page, name) {
  await page.addScriptTag({ path: axePath })
  const res = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa'] } })
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ' ' + (n.failureSummary ?? '').split('\n')[1]) }))
  })
  if (res.length) throw new Error(`axe on ${name}:\n` + res.map((v) => `  ${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.join('\n    ')}`).join('\n'))
}

const { bin, cleanup } = buildBinary()
const port = await freePort()
const base = `http://127.0.0.1:${port}`
const demo = await startDemo(bin, port)
const browser = await launch()
const only = process.argv[2]
let passed = 0
let failed = 0
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: base, bypassCSP: true })
  const page = await context.newPage()
  const errors = []
  page.on('pageerror', (e) => errors.push(String(e)))
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()))
  for (const t of tests) {
    if (only && !t.name.includes(only)) continue
    const t0 = Date.now()
    errors.length = 0
    try {
      await t.run({ page, base, shot: (n) => page.screenshot({ path: join(out, n + '.png') }), axe: (n) => axe(page, n) })
      const pageErrors = errors.filter((e) => !/WebSocket|ERR_CONNECTION/.test(e))
      if (pageErrors.length) throw new Error('page errors:\n  ' + pageErrors.join('\n  '))
      passed++
      console.log(`ok   ${t.name} (${Date.now() - t0} ms)`)
    } catch (e) {
      failed++
      console.log(`FAIL ${t.name} (${Date.now() - t0} ms)\n  ${String(e.stack || e).split('\n').join('\n  ')}`)
      await page.screenshot({ path: join(out, 'failed-' + t.name.replace(/\W+/g, '-') + '.png') }).catch(() => {})
    }
  }
} finally {
  await browser.close()
  demo.proc.kill('SIGTERM')
  await new Promise((r) => demo.proc.once('exit', r))
  cleanup()
}
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed ? 1 : 0)
