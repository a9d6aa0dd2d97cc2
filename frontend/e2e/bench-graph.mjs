// Benchmark: the lineage graph with N nodes (default 2,000) in Chromium.
// Registers a layered DAG of datasets in a fresh `watershed demo`, opens
// /lineage/<root>?depth=0&dir=down and reports: time to first paint of the
// graph, ELK layout time (in the worker), and frame times while panning and
// zooming. Prints figures; asserts nothing (a benchmark, not a test).
//
//   npm run bench:graph            N=2000
//   N=5000 npm run bench:graph
import { freePort, buildBinary, startDemo, launch, enc } from './harness.mjs'

const N = Number(process.env.N ?? 2000)
const layers = Math.max(2, Math.round(Math.sqrt(N) / 2))
const perLayer = Math.ceil((N - 1) / (layers - 1))
const urn = (l, i) => (l === 0 ? 'urn:dataset:bench://g/root' : `urn:dataset:bench://g/l${l}n${i}`)

async function gql(base, query) {
  const res = await fetch(base + '/graphql', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ query }) })
  const body = await res.json()
  if (body.errors) throw new Error(JSON.stringify(body.errors).slice(0, 400))
  return body.data
}

async function batched(base, items, chunk) {
  for (let i = 0; i < items.length; i += chunk) await gql(base, 'mutation {' + items.slice(i, i + chunk).join('\n') + '}')
}

const { bin, cleanup } = buildBinary()
const port = await freePort()
const base = `http://127.0.0.1:${port}`
const demo = await startDemo(bin, port)
const browser = await launch()
try {
  const nodes = [urn(0, 0)]
  for (let l = 1; l < layers; l++) for (let i = 0; i < perLayer && nodes.length < N; i++) nodes.push(urn(l, i))
  const edges = []
  const layerOf = (u) => (u.endsWith('/root') ? 0 : Number(/l(\d+)n/.exec(u)[1]))
  const byLayer = new Map()
  for (const u of nodes) byLayer.set(layerOf(u), [...(byLayer.get(layerOf(u)) ?? []), u])
  for (let l = 1; l < layers; l++) {
    const prev = byLayer.get(l - 1)
    for (const [i, u] of (byLayer.get(l) ?? []).entries()) {
      edges.push([prev[i % prev.length], u])
      if (prev.length > 1 && i % 3 === 0) edges.push([prev[(i * 7 + 1) % prev.length], u])
    }
  }
  let t = Date.now()
  await batched(base, nodes.map((u, i) => `a${i}: registerAsset(input: {urn: "${u}"}) { urn }`), 200)
  await batched(base, edges.map(([a, b], i) => `e${i}: addLineage(input: {from: "${a}", to: "${b}", kind: DERIVES}) { kind }`), 200)
  console.log(`graph: ${nodes.length} nodes, ${edges.length} edges in ${layers} layers (registered in ${Date.now() - t} ms)`)

  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage()
  t = Date.now()
  await page.goto(`${base}/lineage/${enc(urn(0, 0))}?depth=0&dir=down`)
  await page.locator(".lineage-page[data-layout-ms]:not([data-layout-ms=\"\"]), .error").first().waitFor({ timeout: 120_000 })
  const err = await page.locator(".error").allTextContents()
  if (err.length) throw new Error("lineage page: " + err.join("; "))
  await page.locator('.react-flow__node').first().waitFor()
  const firstPaint = Date.now() - t
  if (process.env.BENCH_DEBUG) {
    const timing = await page.evaluate(() =>
      performance.getEntriesByType('resource').map((r) => `${r.name.replace(location.origin, '')} ${r.startTime.toFixed(0)}→${r.responseEnd.toFixed(0)} ms`),
    )
    console.log('resources:\n  ' + timing.join('\n  ') + `\n  screen at ${(await page.evaluate(() => performance.now())).toFixed(0)} ms`)
  }
  const info = await page.evaluate(() => ({
    nodes: Number(document.querySelector('.lineage-page').dataset.nodes),
    layout: Number(document.querySelector('.lineage-page').dataset.layoutMs),
    walk: Number(document.querySelector('.lineage-page').dataset.walkMs),
  }))
  // Pan and zoom for ~3 s, recording frame intervals.
  await page.evaluate(() => {
    window.__frames = []
    let last = performance.now()
    const tick = (now) => {
      window.__frames.push(now - last)
      last = now
      if (window.__frames.length < 100000) window.__raf = requestAnimationFrame(tick)
    }
    window.__raf = requestAnimationFrame(tick)
  })
  const box = await page.locator('.react-flow__pane').boundingBox()
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2)
  await page.mouse.wheel(0, -600) // zoom in: more nodes become individually visible
  for (let r = 0; r < 3; r++) {
    await page.mouse.down()
    for (let s = 0; s < 30; s++) await page.mouse.move(box.x + box.width / 2 - s * 12, box.y + box.height / 2 - s * 4)
    await page.mouse.up()
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2)
    await page.mouse.wheel(0, r % 2 ? -300 : 300)
  }
  const frames = await page.evaluate(() => (cancelAnimationFrame(window.__raf), window.__frames.slice(1)))
  const sorted = [...frames].sort((a, b) => a - b)
  const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))].toFixed(1)
  const rendered = await page.locator('.react-flow__node').count()
  console.log(`lineage page: ${info.nodes} nodes loaded, ${rendered} in the DOM (only visible ones render)`)
  console.log(`time to graph on screen: ${firstPaint} ms (lineage walk over GraphQL ${info.walk} ms, layout ${info.layout} ms)`)
  console.log(`frames while panning/zooming: ${frames.length}, p50 ${q(0.5)} ms, p95 ${q(0.95)} ms, max ${sorted.at(-1).toFixed(1)} ms`)
} finally {
  await browser.close()
  demo.proc.kill('SIGTERM')
  await new Promise((r) => demo.proc.once('exit', r))
  cleanup()
}
