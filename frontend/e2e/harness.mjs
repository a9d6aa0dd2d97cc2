// Shared by the e2e suite and the graph benchmark: a free port, the
// watershed binary, a running demo, Debian's Chromium.
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

export function buildBinary() {
  if (process.env.WATERSHED_BIN) return { bin: process.env.WATERSHED_BIN, cleanup: () => {} }
  const dir = mkdtempSync(join(tmpdir(), 'watershed-e2e-'))
  const bin = join(dir, 'watershed')
  execFileSync('go', ['build', '-o', bin, './cmd/watershed'], { cwd: join(here, '..', '..'), stdio: 'inherit' })
  return { bin, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

export async function startDemo(bin, port) {
  const proc = spawn(bin, ['demo', '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  proc.stderr.on('data', (d) => (log += d))
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('demo not ready in 60 s:\n' + log)), 60_000)
    proc.stdout.on('data', (d) => {
      if (String(d).includes('Watershed demo is ready')) {
        clearTimeout(timer)
        resolve()
      }
    })
    proc.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`demo exited with ${code}:\n${log}`))
    })
  })
  return { proc, log: () => log }
}


export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
}

/** enc is the app's deep-link encoding of a URN (src/api/urn.ts encodeURN). */
export const enc = (urn) =>
  encodeURIComponent(urn)
    .replace(/%3A/g, ':')
    .replace(/%2F/g, '/')
    .replace(/\/\//g, '/%2F')
    .replace(/\/(\.{1,2})(?=\/|$)/g, (_, d) => '/' + d.replace(/\./g, '%2E'))
