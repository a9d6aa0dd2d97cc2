// Webhooks: list, create (the signing secret shown once), and per webhook
// its settings, delivery log, dead letters and replay, rotation, deletion.
// Every webhook field needs a token with write access (URLs are secrets).
import { useEffect, useState } from 'react'
import { useMutation, useQuery } from 'urql'
import { Link, useLocation } from 'wouter'
import { ClassificationsQuery, CreateWebhookMutation, DeleteWebhookMutation, ReplayDeadLettersMutation, RotateWebhookSecretMutation, UpdateWebhookMutation, WebhookQuery, WebhooksQuery } from '../api/operations'
import type { WebhookFieldsFragment, WebhookFormat } from '../gql/graphql'
import { ErrorMessage, Loading, Section, Time } from '../components/ui'

const pollMs = 5000

/** hostOf shows where a webhook goes without its path (which may carry a token, as Slack's do). */
export function hostOf(url: string): string {
  try {
    const u = new URL(url)
    return u.protocol + '//' + u.host + (u.pathname.length > 1 ? '/…' : '')
  } catch {
    return url
  }
}

export function WebhooksPage() {
  const [{ data, error }, refetch] = useQuery({ query: WebhooksQuery, requestPolicy: 'cache-and-network' })
  const [creating, setCreating] = useState(false)
  const [created, setCreated] = useState<{ secret: string; webhook: WebhookFieldsFragment } | null>(null)
  useEffect(() => {
    const t = setInterval(() => refetch({ requestPolicy: 'network-only' }), pollMs)
    return () => clearInterval(t)
  }, [refetch])
  return (
    <div className="page">
      <div className="section-head">
        <h1>Webhooks</h1>
        {!creating && (
          <button type="button" className="primary" onClick={() => (setCreating(true), setCreated(null))}>
            New webhook
          </button>
        )}
      </div>
      {created && <SecretOnce secret={created.secret} what={`Webhook ${created.webhook.name} created`} />}
      {creating && (
        <CreateWebhook
          onCancel={() => setCreating(false)}
          onCreated={(c) => {
            setCreated(c)
            setCreating(false)
            refetch({ requestPolicy: 'network-only' })
          }}
        />
      )}
      <ErrorMessage error={error} what="Webhooks" />
      {!data && !error && <Loading />}
      {data && data.webhooks.length === 0 && <p className="muted">No webhooks yet.</p>}
      {data && data.webhooks.length > 0 && (
        <table className="grid" aria-label="Webhooks">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Destination</th>
              <th scope="col">Events</th>
              <th scope="col">Format</th>
              <th scope="col">State</th>
              <th scope="col">Pending</th>
              <th scope="col">Last success</th>
            </tr>
          </thead>
          <tbody>
            {data.webhooks.map((w) => (
              <tr key={w.id}>
                <td>
                  <Link href={'/webhooks/' + encodeURIComponent(w.id)}>{w.name}</Link>
                </td>
                <td>
                  <code>{hostOf(w.url)}</code>
                </td>
                <td>{w.types.join(', ')}</td>
                <td>{w.format.toLowerCase()}</td>
                <td>
                  <WebhookState w={w} />
                </td>
                <td className="num">{w.pending}</td>
                <td>
                  <Time at={w.lastSuccessAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  )
}

function WebhookState({ w }: { w: WebhookFieldsFragment }) {
  if (!w.enabled) return <span className={'tag ' + (w.disabledReason ? 'danger' : '')}>{w.disabledReason ? 'disabled: ' + w.disabledReason : 'disabled'}</span>
  if (w.failingSince)
    return (
      <span className="tag warn">
        failing since <Time at={w.failingSince} />
      </span>
    )
  return <span className="tag ok">enabled</span>
}

/** SecretOnce shows a signing secret that the server will never show again. */
function SecretOnce({ secret, what }: { secret: string; what: string }) {
  const [copied, setCopied] = useState(false)
  return (
    <div className="secret-once" role="alert">
      <strong>{what}.</strong> Its signing secret is shown now and never again; store it with the receiver:
      <div className="row">
        <code className="secret" data-testid="webhook-secret">
          {secret}
        </code>
        <button
          type="button"
          onClick={() =>
            navigator.clipboard?.writeText(secret).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
      </div>
    </div>
  )
}

function CreateWebhook({ onCancel, onCreated }: { onCancel: () => void; onCreated: (c: { secret: string; webhook: WebhookFieldsFragment }) => void }) {
  const [res, create] = useMutation(CreateWebhookMutation)
  const [defs] = useQuery({ query: ClassificationsQuery })
  const [f, setF] = useState({ name: '', url: '', types: 'classification.*, policy.violation.*', format: 'CLOUDEVENTS' as WebhookFormat, enabled: true, classification: '', urn: '', downstreamOf: '', hops: '0', ownedBy: '', description: '' })
  const set = (k: keyof typeof f) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) =>
    setF({ ...f, [k]: e.target.type === 'checkbox' ? (e.target as HTMLInputElement).checked : e.target.value })
  const submit = async (e: React.FormEvent) => {
    e.preventDefault()
    const types = f.types.split(',').map((s) => s.trim()).filter(Boolean)
    const r = await create({
      input: {
        name: f.name.trim() || null,
        url: f.url.trim(),
        description: f.description.trim() || null,
        types,
        format: f.format,
        enabled: f.enabled,
        filter: {
          classification: f.classification || null,
          urn: f.urn.trim() || null,
          downstreamOf: f.downstreamOf.trim() || null,
          hops: Number(f.hops) || 0,
          ownedBy: f.ownedBy.trim() || null,
        },
      },
    })
    if (r.data) onCreated(r.data.createWebhook)
  }
  return (
    <form className="section webhook-form" onSubmit={submit} aria-label="New webhook">
      <h2>New webhook</h2>
      <div className="form-grid">
        <label>
          Receiver URL
          <input type="text" required value={f.url} onChange={set('url')} placeholder="https://hooks.slack.com/services/…" />
        </label>
        <label>
          Name
          <input type="text" value={f.name} onChange={set('name')} placeholder="defaults to the host" />
        </label>
        <label>
          Event types (comma-separated globs)
          <input type="text" required value={f.types} onChange={set('types')} />
        </label>
        <label>
          Format
          <select value={f.format} onChange={set('format')}>
            <option value="CLOUDEVENTS">CloudEvents JSON</option>
            <option value="SLACK">Slack message</option>
          </select>
        </label>
        <label>
          Only about assets classified
          <select value={f.classification} onChange={set('classification')}>
            <option value="">any</option>
            {defs.data?.classifications.map((d) => (
              <option key={d.name} value={d.name}>
                {d.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Only subjects matching (URN glob)
          <input type="text" value={f.urn} onChange={set('urn')} placeholder="urn:topic:prod/*" />
        </label>
        <label>
          Only downstream of (URN)
          <input type="text" value={f.downstreamOf} onChange={set('downstreamOf')} placeholder="urn:table:postgres://…" />
        </label>
        <label>
          Within hops (0: any)
          <input type="text" inputMode="numeric" value={f.hops} onChange={set('hops')} />
        </label>
        <label>
          Upstream of assets owned by
          <input type="text" value={f.ownedBy} onChange={set('ownedBy')} placeholder="team-payments" />
        </label>
        <label>
          Description
          <input type="text" value={f.description} onChange={set('description')} />
        </label>
      </div>
      <label className="check">
        <input type="checkbox" checked={f.enabled} onChange={set('enabled')} /> enabled (deliver from now on)
      </label>
      <div className="row">
        <button type="submit" className="primary" disabled={res.fetching}>
          Create webhook
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
      <ErrorMessage error={res.error} what="Create webhook" />
    </form>
  )
}

export function WebhookPage({ params }: { params: Record<string, string | undefined> }) {
  const id = decodeURIComponent(params.id ?? '')
  const [, navigate] = useLocation()
  const [{ data, error }, refetch] = useQuery({ query: WebhookQuery, variables: { id } })
  const [upd, update] = useMutation(UpdateWebhookMutation)
  const [del, remove] = useMutation(DeleteWebhookMutation)
  const [rot, rotate] = useMutation(RotateWebhookSecretMutation)
  const [rep, replay] = useMutation(ReplayDeadLettersMutation)
  const [secret, setSecret] = useState<string | null>(null)
  const [replayed, setReplayed] = useState<number | null>(null)
  useEffect(() => {
    const t = setInterval(() => refetch({ requestPolicy: 'network-only' }), pollMs)
    return () => clearInterval(t)
  }, [refetch])
  const w = data?.webhook
  if (error && !w)
    return (
      <div className="page">
        <h1>Webhook {id}</h1>
        <ErrorMessage error={error} what="Webhook" />
      </div>
    )
  if (!w) return <Loading what="Loading webhook" />
  const filter = Object.entries(w.filter).filter(([k, v]) => k !== '__typename' && v !== null && !(k === 'hops' && v === 0))
  return (
    <div className="page">
      <p>
        <Link href="/webhooks">← Webhooks</Link>
      </p>
      <div className="title-row">
        <h1>{w.name}</h1>
        <WebhookState w={w} />
        <span className="spacer" />
        <button type="button" onClick={() => update({ id, input: { enabled: !w.enabled } })} disabled={upd.fetching}>
          {w.enabled ? 'Disable' : 'Enable'}
        </button>
        <button
          type="button"
          onClick={async () => {
            const r = await rotate({ id, overlapSeconds: 86400 })
            if (r.data) setSecret(r.data.rotateWebhookSecret)
          }}
          disabled={rot.fetching}
        >
          Rotate secret
        </button>
        <button
          type="button"
          className="danger"
          onClick={async () => {
            if (!window.confirm(`Delete webhook ${w.name} with its pending deliveries, log and dead letters?`)) return
            const r = await remove({ id })
            if (!r.error) navigate('/webhooks')
          }}
        >
          Delete
        </button>
      </div>
      {secret && <SecretOnce secret={secret} what="New signing secret (the old one keeps signing for a day)" />}
      <ErrorMessage error={upd.error ?? del.error ?? rot.error ?? rep.error} />
      <div className="stats">
        <div className="stat">
          <div className="stat-label">Destination</div>
          <div className="stat-value small">
            <code>{hostOf(w.url)}</code>
          </div>
        </div>
        <div className="stat">
          <div className="stat-label">Pending</div>
          <div className="stat-value">{w.pending}</div>
        </div>
        <div className="stat">
          <div className="stat-label">Last success</div>
          <div className="stat-value">
            <Time at={w.lastSuccessAt} />
          </div>
        </div>
        <div className="stat">
          <div className="stat-label">Secrets in use</div>
          <div className="stat-value">{w.activeSecrets}</div>
        </div>
      </div>
      <Section title="Subscription">
        <dl className="facts">
          <dt>Events</dt>
          <dd>{w.types.join(', ')}</dd>
          <dt>Filter</dt>
          <dd>{filter.length ? filter.map(([k, v]) => `${k}: ${v}`).join(' · ') : 'none'}</dd>
          <dt>Format</dt>
          <dd>{w.format.toLowerCase()}</dd>
          <dt>Created</dt>
          <dd>
            <Time at={w.createdAt} />
          </dd>
          {w.description && (
            <>
              <dt>Description</dt>
              <dd>{w.description}</dd>
            </>
          )}
        </dl>
      </Section>
      <Section
        title={`Dead letters (${w.deadLetters.length})`}
        actions={
          w.deadLetters.length > 0 && (
            <button
              type="button"
              onClick={async () => {
                const r = await replay({ webhook: id })
                if (r.data) setReplayed(r.data.replayDeadLetters)
                refetch({ requestPolicy: 'network-only' })
              }}
              disabled={rep.fetching}
            >
              Replay all
            </button>
          )
        }
      >
        {replayed !== null && <p role="status">{replayed} deliveries queued again.</p>}
        {w.deadLetters.length === 0 ? (
          <p className="muted">No dead letters.</p>
        ) : (
          <table className="grid" aria-label="Dead letters">
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Subject</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last error</th>
                <th scope="col">Dead since</th>
              </tr>
            </thead>
            <tbody>
              {w.deadLetters.map((d) => (
                <tr key={d.webhookId}>
                  <td>{d.type}</td>
                  <td className="small">{d.subject}</td>
                  <td className="num">{d.attempts}</td>
                  <td className="small">{d.lastStatus ? `HTTP ${d.lastStatus} ` : ''}{d.lastError}</td>
                  <td>
                    <Time at={d.deadAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="Delivery log">
        {w.attempts.length === 0 ? (
          <p className="muted">No attempts yet.</p>
        ) : (
          <table className="grid" aria-label="Delivery log">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Event</th>
                <th scope="col">Attempt</th>
                <th scope="col">Outcome</th>
                <th scope="col">Status</th>
                <th scope="col">Latency</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {w.attempts.map((a) => (
                <tr key={a.webhookId + a.number}>
                  <td>
                    <Time at={a.at} />
                  </td>
                  <td title={'change ' + a.change + ', webhook-id ' + a.webhookId}>{a.type}</td>
                  <td className="num">{a.number}</td>
                  <td>
                    <span className={'tag ' + (a.outcome === 'delivered' ? 'ok' : a.outcome === 'retry' ? 'warn' : 'danger')}>{a.outcome}</span>
                  </td>
                  <td className="num">{a.status ?? '—'}</td>
                  <td className="num">{a.latencyMs.toFixed(0)} ms</td>
                  <td className="small">{a.error ?? a.response}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </div>
  )
}
