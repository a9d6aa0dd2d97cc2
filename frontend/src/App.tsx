import { Suspense, useState } from 'react'
import { Link, Route, Switch, useLocation } from 'wouter'
import { routes } from './routes'
import { GlobalSearch } from './components/GlobalSearch'
import { ConnectionIndicator } from './components/ConnectionIndicator'
import { TokenDialog } from './components/TokenDialog'
import type { TokenStore } from './api/client'
import { Loading } from './components/ui'
import { ErrorBoundary } from './components/ErrorBoundary'

export function App({ tokens }: { tokens: TokenStore }) {
  const [location] = useLocation()
  const [tokenOpen, setTokenOpen] = useState(false)
  return (
    <div className="app">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link href="/" className="brand" aria-label="Watershed home">
          <svg width="22" height="22" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M12 2C8 8 5 11.5 5 15a7 7 0 0 0 14 0c0-3.5-3-7-7-13z" fill="currentColor" />
          </svg>
          Watershed
        </Link>
        <GlobalSearch />
        <nav aria-label="Main">
          {routes
            .filter((r) => r.nav)
            .map((r) => {
              const href = r.href ?? r.path
              const active = location === href || location.startsWith(href + '/')
              return (
                <Link key={href} href={href} className={active ? 'active' : ''} aria-current={active ? 'page' : undefined}>
                  {r.nav}
                </Link>
              )
            })}
        </nav>
        <ConnectionIndicator />
        <button type="button" className="icon-button" onClick={() => setTokenOpen(true)} aria-label="API token" title="API token">
          <svg width="18" height="18" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M7 14a3 3 0 1 1 0-6 3 3 0 0 1 0 6zm5.6-4A6 6 0 1 0 12.6 14H16v3h3v-3h2v-4z" fill="currentColor" />
          </svg>
        </button>
      </header>
      {tokenOpen && <TokenDialog tokens={tokens} onClose={() => setTokenOpen(false)} />}
      <main id="main" tabIndex={-1}>
        <ErrorBoundary key={location}>
          <Suspense fallback={<Loading />}>
            <Switch>
              {routes.map((r) => (
                <Route key={r.path} path={r.path} component={r.component} />
              ))}
              <Route>
                <div className="page">
                  <h1>Not found</h1>
                  <p>
                    Nothing lives at <code>{location}</code>. <Link href="/">Start over</Link>.
                  </p>
                </div>
              </Route>
            </Switch>
          </Suspense>
        </ErrorBoundary>
      </main>
    </div>
  )
}
