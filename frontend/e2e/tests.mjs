// The steward's jobs, in a real browser, against the demo estate.
import assert from 'node:assert/strict'
import { enc } from './harness.mjs'
import { createServer } from 'node:http'
import { createHmac } from 'node:crypto'

/** receiver is a local webhook endpoint that records what it gets. */
async function receiver() {
  const got = []
  const srv = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      got.push({ headers: req.headers, body })
      res.writeHead(204).end()
    })
  })
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${srv.address().port}/hook`, got, close: () => new Promise((r) => srv.close(r)) }
}

/** verify checks a Standard Webhooks signature with the whsec_ secret. */
function verify(secret, { headers, body }) {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64')
  const want = createHmac('sha256', key).update(`${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`).digest('base64')
  return String(headers['webhook-signature']).split(' ').some((s) => s === 'v1,' + want)
}

/** attacker serves one page, from another origin than the demo's, that tries to write to it. */
async function attacker() {
  const srv = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end('<!doctype html><title>elsewhere</title><h1>Another site</h1>')
  })
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  return { port: srv.address().port, close: () => new Promise((r) => srv.close(r)) }
}

/** gql posts a GraphQL request as a program would (no Origin) and returns the body. */
async function gql(base, query, variables) {
  const res = await fetch(base + '/graphql', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ query, variables }) })
  return res.json()
}

/** openLineageEvent is a minimal COMPLETE run event writing the dataset s3://e2e-bucket/<out>. */
const openLineageEvent = (job, out) =>
  JSON.stringify({
    eventType: 'COMPLETE',
    eventTime: new Date().toISOString(),
    producer: 'https://example.com/watershed-e2e',
    schemaURL: 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent',
    run: { runId: '0193a7d8-7b62-7c5e-9b1e-' + String(Math.floor(Math.random() * 1e12)).padStart(12, '0') },
    job: { namespace: 'e2e', name: job },
    inputs: [{ namespace: 's3://e2e-bucket', name: out + '-in' }],
    outputs: [{ namespace: 's3://e2e-bucket', name: out }],
  })

const topic = 'urn:topic:prod/cdc.shop.customers'
const column = 'urn:column:postgres://shop-db.acme.internal:5432/shop.public.customers/email'
const dwhColumn = 'urn:column:postgres://dwh.acme.internal:5432/dwh.staging.customers/email'
const subject = 'urn:subject:prod-sr/cdc.shop.customers-value'

export const tests = [
  {
    name: 'home shows the catalog and a live connection',
    async run({ page, shot, axe }) {
      await page.goto('/')
      await page.locator('.conn[data-state="connected"]').waitFor({ timeout: 15_000 })
      await page.getByRole('list', { name: 'Assets by kind' }).getByText('Topic').waitFor()
      // The newest entries of the change log (the crawls' changes).
      await page.getByRole('list', { name: 'Changes' }).locator('li').first().waitFor({ timeout: 15_000 })
      await shot('home')
      await axe('home')
    },
  },
  {
    name: 'search as you type with the keyboard and open a topic',
    async run({ page, shot }) {
      await page.goto('/')
      await page.locator('.conn[data-state="connected"]').waitFor({ timeout: 15_000 })
      await page.keyboard.press('/')
      await page.keyboard.type('cdc.shop.cust')
      const option = page.getByRole('option', { name: /cdc\.shop\.customers.*Topic/ })
      await option.waitFor()
      await shot('search-suggestions')
      // Arrow down to the topic, then Enter.
      const options = await page.getByRole('option').allTextContents()
      const i = options.findIndex((t) => t.includes('cdc.shop.customers') && t.includes('Topic'))
      assert.ok(i >= 0, 'topic among suggestions: ' + options.join(' | '))
      for (let k = 0; k <= i; k++) await page.keyboard.press('ArrowDown')
      await page.keyboard.press('Enter')
      await page.waitForURL((u) => decodeURIComponent(u.pathname) === '/asset/' + topic)
      await page.getByRole('heading', { level: 1, name: 'cdc.shop.customers' }).waitFor()
    },
  },
  {
    name: 'full search with facets',
    async run({ page, shot, axe }) {
      await page.goto('/search?q=customers')
      await page.getByText(/\d+ results?/).waitFor()
      const facet = page.getByRole('group', { name: 'Kind' }).getByRole('checkbox', { name: /^Table\b/ })
      await facet.check()
      await page.waitForURL(/kind=TABLE/)
      await page.locator('.result-list li').first().waitFor()
      const kinds = await page.locator('.result-list .r-kind').allTextContents()
      assert.ok(kinds.length > 0 && kinds.every((k) => k === 'Table'), 'only tables: ' + kinds.join(','))
      await shot('search-facets')
      await axe('search')
    },
  },
  {
    name: 'topic page: fields, consumers, configs, schema versions',
    async run({ page, shot, axe }) {
      await page.goto('/asset/' + topic)
      const tree = page.getByRole('tree', { name: 'Fields' })
      await tree.waitFor()
      await tree.getByRole('link', { name: 'after', exact: true }).waitFor()
      // Nested: after → email, with the PII its schema tag put there.
      const email = tree.locator('li[aria-level="2"]').filter({ has: page.getByRole('link', { name: 'email', exact: true }) }).first()
      await email.locator('[data-classification="PII"]').waitFor()
      const consumers = page.getByRole('table', { name: 'Consumers' })
      await consumers.getByRole('link', { name: /analytics/ }).waitFor()
      await page.getByRole('table', { name: 'Partitions' }).locator('tbody tr').nth(5).waitFor()
      await page.getByRole('table', { name: 'Topic configuration' }).getByText('cleanup.policy').waitFor()
      await page.getByRole('table', { name: 'Schema versions' }).waitFor()
      await shot('topic')
      await axe('topic')
    },
  },
  {
    name: 'consumer group page: lag per partition and members (deep link)',
    async run({ page, shot }) {
      await page.goto('/asset/urn:group:prod/analytics')
      await page.getByRole('table', { name: 'Lag per partition' }).locator('tbody tr').first().waitFor()
      await page.getByRole('table', { name: 'Members' }).getByText('analytics-notebook').waitFor()
      await page.locator('.sparkline svg').first().waitFor()
      await shot('consumer-group')
    },
  },
  {
    name: 'connector page: redacted config and tasks',
    async run({ page, shot }) {
      await page.goto('/asset/urn:connector:prod-connect/lake-s3-sink')
      const cfg = page.getByRole('table', { name: 'Connector configuration' })
      await cfg.getByText('aws.secret.access.key').waitFor()
      await cfg.locator('.redacted').first().waitFor()
      await page.getByRole('table', { name: 'Tasks' }).locator('tbody tr').first().waitFor()
      await shot('connector')
    },
  },
  {
    name: 'lineage graph: open, expand a node, highlight a path, field level',
    async run({ page, shot, axe }) {
      await page.goto('/asset/' + topic)
      await page.getByRole('link', { name: 'Lineage graph' }).click()
      await page.waitForURL(/\/lineage\//)
      await page.locator('.lineage-page[data-layout-ms]:not([data-layout-ms=""])').waitFor({ timeout: 20_000 })
      const nodes = page.locator('.react-flow__node')
      await nodes.first().waitFor()
      await page.waitForFunction(() => document.querySelectorAll('.react-flow__node').length > 1)
      // Hovering an edge shows its provenance.
      await page.locator('.react-flow__edge').first().hover({ force: true })
      await page.getByRole('tooltip').getByText(/connect-config|consumer-offsets|topology|openlineage|acl/).first().waitFor()
      await shot('lineage')
      await page.mouse.move(5, 300)
      await axe('lineage')
      // Depth 1: frontier nodes offer expansion.
      await page.goto('/lineage/' + topic + '?depth=1')
      await page.waitForFunction(() => document.querySelectorAll('.react-flow__node').length > 1)
      const before = await nodes.count()
      const expand = page.getByRole('button', { name: 'Expand downstream of dwh-jdbc-sink' })
      await expand.waitFor()
      await expand.click()
      await page.waitForFunction((n) => document.querySelectorAll('.react-flow__node').length > n, before, { timeout: 15_000 })
      const after = await nodes.count()
      assert.ok(after > before, `expanded: ${before} → ${after}`)
      // Collapse brings it back.
      await page.getByRole('button', { name: /^Collapse / }).first().click()
      await page.waitForFunction((n) => document.querySelectorAll('.react-flow__node').length === n, before, { timeout: 10_000 })
      // Click a node to highlight its path from the root.
      await nodes.nth(1).click()
      await page.locator('.react-flow__node.hl').first().waitFor()
      await page.getByRole('heading', { name: 'Path from the root' }).waitFor()
      await shot('lineage-path')
      // Field level.
      await page.getByRole('button', { name: 'Fields' }).click()
      await page.waitForURL(/level=field/)
      await page.locator('.ggroup .grow').first().waitFor({ timeout: 20_000 })
      await page.waitForFunction(() => document.querySelectorAll('.react-flow__edge').length > 0)
      await page.locator('.lineage-page[data-layout-ms]:not([data-layout-ms=""])').waitFor()
      await shot('lineage-fields')
    },
  },
  {
    name: 'lineage draws masking edges differently',
    async run({ page, shot }) {
      const card = 'urn:column:mysql://payments-db.acme.internal:3306/payments.card_payments/card_number'
      await page.goto('/lineage/' + enc(card) + '?level=field')
      await page.locator('.lineage-page[data-layout-ms]:not([data-layout-ms=""])').waitFor({ timeout: 20_000 })
      const masked = page.locator('.react-flow__edge.masking')
      await masked.first().waitFor()
      await page.locator('.react-flow__edge-text', { hasText: 'masked' }).first().waitFor()
      await masked.first().hover({ force: true })
      await page.getByRole('tooltip').getByText('masking').waitFor()
      await shot('lineage-masking')
    },
  },
  {
    name: 'lineage time travel before the first crawl shows nothing downstream',
    async run({ page }) {
      await page.goto('/lineage/' + topic + '?at=2000-01-01T00:00:00.000Z')
      await page.getByRole('note').getByText(/Showing lineage as of/).waitFor()
      await page.locator('.lineage-page[data-layout-ms]:not([data-layout-ms=""])').waitFor({ timeout: 20_000 })
      assert.equal(await page.locator('.react-flow__node').count(), 1)
    },
  },
  {
    name: 'classify a column and see the badge',
    async run({ page, shot, axe }) {
      await page.goto('/asset/' + enc(column))
      await page.getByRole('heading', { level: 1, name: 'email' }).waitFor()
      const area = page.getByLabel('Classifications', { exact: true })
      assert.equal(await area.locator('[data-classification="PII.Email"]').count(), 0)
      await page.getByLabel('Classification to attach').selectOption('PII.Email')
      await page.getByRole('button', { name: 'Classify' }).click()
      await area.locator('[data-classification="PII.Email"]').waitFor()
      await shot('classified-column')
      await axe('column')
      // The change arrived over the subscription: the activity feed has it.
      await page.goto('/changes')
      await page.getByRole('list', { name: 'Changes' }).getByText('classification.attached').first().waitFor()
      // Detach again.
      await page.goto('/asset/' + enc(column))
      await page.getByRole('button', { name: 'Remove PII.Email' }).click()
      await page.getByLabel('Classifications', { exact: true }).locator('[data-classification="PII.Email"]').waitFor({ state: 'detached' })
    },
  },
  {
    name: 'live: a classification made elsewhere appears without reload',
    async run({ page, base, shot }) {
      const field = 'urn:field:prod/cdc.shop.orders/value/after.total'
      await page.goto('/asset/' + enc(field))
      await page.locator('.conn[data-state="connected"]').waitFor({ timeout: 15_000 })
      await page.getByRole('heading', { level: 1 }).waitFor()
      const area = page.getByLabel('Classifications', { exact: true })
      assert.equal(await area.locator('[data-classification="Financial"]').count(), 0)
      const marker = await page.evaluate(() => (window.__noReload = Math.random()))
      // Someone else classifies it, through the API.
      const res = await fetch(base + '/graphql', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ query: `mutation { classify(urn: "${field}", classification: "Financial") { urn } }` }),
      })
      const body = await res.json()
      assert.ok(!body.errors, JSON.stringify(body.errors))
      await area.locator('[data-classification="Financial"]').waitFor({ timeout: 10_000 })
      assert.equal(await page.evaluate(() => window.__noReload), marker, 'the page was not reloaded')
      await shot('live-classification')
    },
  },
  {
    name: 'description and owners',
    async run({ page }) {
      await page.goto('/asset/' + topic)
      await page.getByRole('button', { name: 'Edit description' }).click()
      await page.getByRole('textbox', { name: 'Description' }).fill('Customers, as captured from the shop database')
      await page.getByRole('button', { name: 'Save' }).click()
      await page.getByText('Customers, as captured from the shop database').waitFor()
      await page.getByLabel('Add owner').fill('team-shop')
      await page.getByRole('button', { name: 'Add owner' }).click()
      await page.getByRole('list', { name: 'Owners' }).getByText('team-shop').waitFor()
    },
  },
  {
    name: 'sources: status and crawl now',
    async run({ page, shot, axe }) {
      await page.goto('/sources')
      const runs = page.getByRole('table', { name: 'Crawl runs' }).locator('tbody tr')
      await runs.first().waitFor()
      const before = await runs.count()
      await page.getByRole('article', { name: 'prod-sr' }).getByRole('button', { name: 'Crawl now' }).click()
      await page.waitForFunction(
        (n) => document.querySelectorAll('table[aria-label="Crawl runs"] tbody tr').length > n,
        before,
        { timeout: 20_000 },
      )
      assert.ok((await page.getByRole('table', { name: 'Crawl runs' }).getByText('manual').count()) > 0, 'a manual run is listed')
      await shot('sources')
      await axe('sources')
    },
  },
  {
    name: 'webhooks: create, secret once, delivery log',
    async run({ page, base, shot, axe }) {
      const rcv = await receiver()
      try {
        await page.goto('/webhooks')
        await page.getByRole('button', { name: 'New webhook' }).click()
        const form = page.getByRole('form', { name: 'New webhook' })
        await form.getByLabel('Receiver URL').fill(rcv.url)
        await form.getByLabel('Name', { exact: true }).fill('e2e receiver')
        await form.getByLabel('Event types').fill('classification.attached')
        await form.getByRole('button', { name: 'Create webhook' }).click()
        const secretEl = page.getByTestId('webhook-secret')
        await secretEl.waitFor()
        const secret = (await secretEl.textContent()).trim()
        assert.match(secret, /^whsec_/)
        await shot('webhook-created')
        await axe('webhooks')
        // Once: the list and the webhook's page never show it again.
        await page.getByRole('table', { name: 'Webhooks' }).getByRole('link', { name: 'e2e receiver' }).click()
        await page.getByRole('heading', { level: 1, name: 'e2e receiver' }).waitFor()
        assert.equal(await page.getByText(secret).count(), 0, 'secret shown again')
        // A classification is delivered, signed with that secret, and logged.
        const res = await fetch(base + '/graphql', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ query: 'mutation { classify(urn: "urn:topic:prod/payments", classification: "Financial") { urn } }' }),
        })
        assert.equal(res.status, 200)
        await page.getByRole('table', { name: 'Delivery log' }).getByText('delivered').first().waitFor({ timeout: 20_000 })
        assert.ok(rcv.got.length > 0, 'receiver got a delivery')
        assert.ok(verify(secret, rcv.got[0]), 'signature verifies with the secret shown once')
        await shot('webhook-log')
      } finally {
        await rcv.close()
      }
    },
  },
  {
    name: 'impact view: downstream grouped by kind, lag, path; field level',
    async run({ page, shot, axe }) {
      await page.goto('/asset/' + topic)
      await page.getByRole('link', { name: 'Impact', exact: true }).click()
      await page.waitForURL((u) => decodeURIComponent(u.pathname) === '/impact/' + topic)
      const groups = page.getByRole('table', { name: 'Consumer groups' })
      const analytics = groups.locator('tr[data-urn="urn:group:prod/analytics"]')
      await analytics.waitFor({ timeout: 20_000 })
      assert.match(await analytics.textContent(), /Stable/)
      // The explaining path from the root to the group.
      assert.deepEqual(await analytics.getByRole('list', { name: 'Path' }).locator('a').evaluateAll((as) => as.map((a) => a.title)), [topic, 'urn:group:prod/analytics'])
      await page.getByRole('table', { name: 'Tables and datasets' }).waitFor()
      await page.getByRole('table', { name: 'Connectors' }).locator('tr[data-urn="urn:connector:prod-connect/dwh-jdbc-sink"]').waitFor()
      await shot('impact')
      await axe('impact')
      // From a field: what derives from it; readers without field lineage are not exact.
      await page.goto('/impact/' + enc('urn:field:prod/cdc.shop.customers/value/after.email'))
      await page.getByText(/downstream of this field/).waitFor({ timeout: 20_000 })
      await page.getByRole('table', { name: 'Fields and columns' }).locator(`tr[data-urn="${dwhColumn}"]`).waitFor()
      await page.getByRole('table', { name: 'Consumer groups' }).getByText('not exact').first().waitFor()
      await shot('impact-field')
    },
  },
  {
    name: 'classify a column with a preview and watch the propagated badge appear downstream without reload',
    async run({ page, shot, axe }) {
      // A second tab shows the downstream column while the steward classifies upstream.
      const down = await page.context().newPage()
      try {
        await down.goto('/asset/' + enc(dwhColumn))
        await down.locator('.conn[data-state="connected"]').waitFor({ timeout: 15_000 })
        const downArea = down.locator('.badges[aria-label="Classifications"]')
        await downArea.waitFor()
        assert.equal(await downArea.locator('[data-classification="PII.Email"]').count(), 0)
        const marker = await down.evaluate(() => (window.__noReload = Math.random()))

        await page.goto('/asset/' + enc(column))
        await page.getByRole('heading', { level: 1, name: 'email' }).waitFor()
        await page.getByLabel('Classification to attach').selectOption('PII.Email')
        // The preview, before anything is written, names where it will go.
        const preview = page.getByRole('region', { name: 'Where PII.Email will propagate' })
        await preview.getByText(/Classifying propagates PII\.Email to \d+ assets/).waitFor({ timeout: 15_000 })
        await preview.getByRole('link', { name: /dwh\.staging\.customers › email/ }).waitFor()
        assert.equal(await downArea.locator('[data-classification="PII.Email"]').count(), 0, 'the preview wrote nothing')
        await shot('classify-preview')
        await axe('classify-preview')
        await page.getByRole('button', { name: 'Classify' }).click()
        await page.getByLabel('Classifications', { exact: true }).locator('[data-classification="PII.Email"]').waitFor()

        // Propagation reaches the other tab through the subscription.
        await downArea.locator('.badge.propagated[data-classification="PII.Email"]').waitFor({ timeout: 30_000 })
        assert.equal(await down.evaluate(() => window.__noReload), marker, 'the downstream page was not reloaded')
        // Why does it carry PII.Email? The path back to the column, with its edges.
        await down.getByRole('button', { name: /^PII\.Email \(propagated\).*why\?/ }).click()
        const why = down.getByRole('region', { name: 'Why PII.Email' })
        await why.getByText('field lineage from').waitFor()
        await why.getByRole('link', { name: /shop\.public\.customers › email/ }).waitFor()
        await why.getByRole('list', { name: /^Path from/ }).getByText(/cdc\.shop\.customers › after\.email/).waitFor()
        await down.screenshot({ path: 'test-results/why-propagated.png' })

        // Detach: the propagated badge goes away downstream too.
        await page.getByRole('button', { name: 'Remove PII.Email' }).click()
        await downArea.locator('[data-classification="PII.Email"]').waitFor({ state: 'detached', timeout: 30_000 })
      } finally {
        await down.close()
      }
    },
  },
  {
    name: 'proposed-schema check: paste a breaking schema and see the verdicts; a parse error is a message',
    async run({ page, base, shot, axe }) {
      await page.goto('/asset/' + enc(subject))
      await page.getByRole('link', { name: 'Check a new schema' }).first().click()
      await page.waitForURL(/\/schema-check\?subject=/)
      const box = page.getByLabel('Candidate schema')
      await page.waitForFunction(() => (document.querySelector('textarea.schema-input')?.value ?? '').includes('"email"'), null, { timeout: 15_000 })
      const latest = await box.inputValue()
      // Remove the e-mail field from the customer record.
      const candidate = latest.replace(/\{"name": "email"[^}]*\},\n\s*/, '')
      assert.notEqual(candidate, latest, 'the latest schema has an email field to remove')
      await box.fill(candidate)
      await page.getByRole('button', { name: 'Check schema' }).click()
      const verdicts = page.getByRole('table', { name: 'Consumer verdicts' })
      await verdicts.waitFor({ timeout: 20_000 })
      await page.getByRole('status').getByText('Breaking for consumers').waitFor()
      const dwh = verdicts.locator('tr', { has: page.getByRole('link', { name: 'dwh-jdbc-sink' }) }).first()
      assert.equal(await dwh.getAttribute('data-verdict'), 'BREAKING')
      assert.match(await dwh.textContent(), /after\.email/)
      assert.ok((await verdicts.locator('tr[data-verdict="UNKNOWN"]').count()) > 0, 'consumers without field lineage two hops away are UNKNOWN')
      await page.getByRole('table', { name: 'Field changes' }).getByText('after.email').waitFor()
      await page.evaluate(() => window.scrollTo(0, document.querySelector('.schema-input').getBoundingClientRect().bottom + window.scrollY - 120))
      await shot('schema-check')
      await axe('schema-check')
      // Nothing was registered: the subject still has one version.
      const s = await gql(base, 'query($u: URN!) { asset(urn: $u) { properties } }', { u: subject })
      assert.equal(s.data.asset.properties.versions, 1)
      // A schema that does not parse: the server's message, no verdicts.
      await box.fill('{"type": "record"')
      await page.getByRole('button', { name: 'Check schema' }).click()
      await page.getByRole('alert').getByText(/INVALID_ARGUMENT.*does not parse/).waitFor()
      assert.equal(await verdicts.count(), 0)
    },
  },
  {
    name: 'violations: acknowledge one, and a mute made elsewhere arrives live',
    async run({ page, base, shot, axe }) {
      // The catalog's home page says how many are unresolved and leads there.
      await page.goto('/')
      await page.getByRole('link', { name: /^\d+ unresolved policy violations/ }).click()
      await page.waitForURL(/\/violations$/)
      await page.locator('.conn[data-state="connected"]').waitFor({ timeout: 15_000 })
      const card = page.getByRole('listitem', { name: 'pii-consumer-allowlist on analytics', exact: true })
      await card.waitFor({ timeout: 20_000 })
      assert.equal(await card.getAttribute('data-status'), 'OPEN')
      await card.getByRole('button', { name: 'Acknowledge…' }).click()
      await card.getByLabel('Note').fill('team-analytics drops the PII read this sprint')
      await card.getByRole('button', { name: 'Acknowledge', exact: true }).click()
      await page.waitForFunction(() => document.querySelector('li[aria-label="pii-consumer-allowlist on analytics"]')?.getAttribute('data-status') === 'ACKNOWLEDGED', null, { timeout: 15_000 })
      await card.getByText('team-analytics drops the PII read this sprint').waitFor()
      await axe('violations')
      // Someone else mutes another one through the API: it changes here without reload.
      const other = 'urn:violation:no-pii-in-s3/urn:dataset:s3://acme-lake/topics/cdc.shop.customers'
      const marker = await page.evaluate(() => (window.__noReload = Math.random()))
      const body = await gql(base, 'mutation($u: URN!) { muteViolation(urn: $u, reason: "lake migration") { status } }', { u: other })
      assert.ok(!body.errors, JSON.stringify(body.errors))
      await page.waitForFunction((u) => document.querySelector(`li[data-urn="${u}"]`)?.getAttribute('data-status') === 'MUTED', other, { timeout: 15_000 })
      assert.equal(await page.evaluate(() => window.__noReload), marker)
      await page.locator(`li[data-urn="${other}"]`).getByText('Muted by').waitFor()
      await card.getByText('Evidence').click()
      await card.getByRole('link', { name: 'cdc.shop.customers › after.email' }).waitFor()
      await page.evaluate(() => window.scrollTo(0, 0))
      await shot('violations')
      // The Acknowledged tab lists the acknowledged one.
      await page.getByRole('group', { name: 'Status' }).getByRole('button', { name: 'Acknowledged' }).click()
      await page.waitForURL(/status=ACKNOWLEDGED/)
      await page.getByRole('listitem', { name: 'pii-consumer-allowlist on analytics', exact: true }).waitFor()
      await gql(base, 'mutation($u: URN!) { unmuteViolation(urn: $u) { status } }', { u: other })
    },
  },
  {
    name: 'a page from another origin cannot write (OpenLineage push, GraphQL mutations)',
    async run({ page, base }) {
      const evil = await attacker()
      try {
        // Control: the same kind of event from a program (no Origin) is written.
        const control = await fetch(base + '/api/v1/lineage', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: openLineageEvent('xsite-control', 'xsite-control') })
        assert.equal(control.status, 201, 'a program may push')
        assert.ok((await gql(base, '{ asset(urn: "urn:dataset:s3://e2e-bucket/xsite-control") { urn } }')).data, 'the control event was written')
        // localhost is another site than 127.0.0.1; another port of 127.0.0.1 is the same site but another origin.
        for (const [tag, origin] of [
          ['xsite', `http://localhost:${evil.port}`],
          ['xorigin', `http://127.0.0.1:${evil.port}`],
        ]) {
          const p = await page.context().newPage()
          const seen = []
          p.on('response', (r) => r.url().startsWith(base) && seen.push({ method: r.request().method(), path: new URL(r.url()).pathname, status: r.status() }))
          try {
            await p.goto(origin + '/')
            await p.getByRole('heading', { name: 'Another site' }).waitFor()
            const urns = []
            const bodies = {}
            for (const [i, k] of ['lineage text/plain', 'lineage json blob', 'lineage json cors'].entries()) {
              bodies[k] = openLineageEvent(`${tag}-job-${i}`, `${tag}-${i}`)
              urns.push(`urn:dataset:s3://e2e-bucket/${tag}-${i}`, `urn:job:e2e/${tag}-job-${i}`)
            }
            for (const k of ['graphql text/plain', 'graphql json blob', 'graphql json cors']) {
              const urn = `urn:dataset:s3://e2e-bucket/${tag}-gql-${k.replace(/\W+/g, '-')}`
              bodies[k] = JSON.stringify({ query: `mutation { registerAsset(input: {urn: "${urn}"}) { urn } }` })
              urns.push(urn)
            }
            const out = await p.evaluate(
              async ({ base, bodies }) => {
                const lineage = base + '/api/v1/lineage'
                const graphql = base + '/graphql'
                const tries = {
                  // CORS simple requests: sent, the answer unreadable (opaque).
                  'lineage text/plain': () => fetch(lineage, { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: bodies['lineage text/plain'] }),
                  'lineage json blob': () => fetch(lineage, { method: 'POST', mode: 'no-cors', body: new Blob([bodies['lineage json blob']], { type: 'application/json' }) }),
                  'graphql text/plain': () => fetch(graphql, { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: bodies['graphql text/plain'] }),
                  'graphql json blob': () => fetch(graphql, { method: 'POST', mode: 'no-cors', body: new Blob([bodies['graphql json blob']], { type: 'application/json' }) }),
                  // JSON needs a preflight, which the server does not grant.
                  'lineage json cors': () => fetch(lineage, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: bodies['lineage json cors'] }),
                  'graphql json cors': () => fetch(graphql, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: bodies['graphql json cors'] }),
                }
                const res = {}
                for (const [k, f] of Object.entries(tries)) {
                  try {
                    const r = await f()
                    res[k] = r.type === 'opaque' ? 'opaque' : 'readable ' + r.status
                  } catch (e) {
                    res[k] = 'blocked'
                  }
                }
                return res
              },
              { base, bodies },
            )
            assert.equal(out['lineage json cors'], 'blocked', `${tag}: ${JSON.stringify(out)}`)
            assert.equal(out['graphql json cors'], 'blocked', `${tag}: ${JSON.stringify(out)}`)
            // Every POST that reached the server was refused.
            const posts = seen.filter((r) => r.method === 'POST')
            assert.ok(posts.length >= 4, `${tag}: the simple requests were sent: ${JSON.stringify(seen)}`)
            console.log(`     ${tag}: ${JSON.stringify(out)}; server answered ${posts.map((r) => r.path + ' ' + r.status).join(', ')}`)
            for (const r of posts) assert.ok(r.status === 403 || r.status === 415, `${tag}: ${r.path} answered ${r.status}: ${JSON.stringify(seen)}`)
            // And nothing was written.
            for (const urn of urns) {
              const b = await gql(base, 'query($u: URN!) { asset(urn: $u) { urn } }', { u: urn })
              assert.equal(b.errors?.[0]?.extensions?.code, 'NOT_FOUND', `${tag}: ${urn} was written`)
            }
          } finally {
            await p.close()
          }
        }
      } finally {
        await evil.close()
      }
    },
  },
  {
    name: 'unknown asset shows the API error, not a blank page',
    async run({ page }) {
      await page.goto('/asset/urn:topic:prod/no-such-topic')
      await page.getByRole('alert').getByText(/NOT_FOUND/).waitFor()
    },
  },
]
