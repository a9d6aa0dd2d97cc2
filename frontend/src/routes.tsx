// The page registry: every route and nav entry in one place. A page is one
// entry here and one module under pages/.
import { lazy, type ComponentType } from 'react'
import { Home } from './pages/Home'
import { SearchPage } from './pages/SearchPage'
import { AssetPage } from './pages/AssetPage'
import { SourcesPage } from './pages/SourcesPage'
import { ChangesPage } from './pages/ChangesPage'
import { ClassificationsPage } from './pages/ClassificationsPage'
import { WebhookPage, WebhooksPage } from './pages/WebhooksPage'

// The graph (React Flow + ELK) is the heaviest part of the UI: load it on first use.
const LineagePage = lazy(() => import('./lineage/LineagePage'))
// Pages a steward opens now and then: loaded on first use, keeping the first chunk small.
const ImpactPage = lazy(() => import('./pages/ImpactPage'))
const SchemaCheckPage = lazy(() => import('./pages/SchemaCheckPage'))
const ViolationsPage = lazy(() => import('./pages/ViolationsPage'))

export interface RouteEntry {
  /** wouter pattern; `*` captures the URN of deep links. */
  path: string
  component: ComponentType<{ params: Record<string, string | undefined> }>
  /** nav entry label, when the page is reachable from the header. */
  nav?: string
  /** href of the nav entry (defaults to path). */
  href?: string
}

export const routes: RouteEntry[] = [
  { path: '/', component: Home },
  { path: '/search', component: SearchPage, nav: 'Search' },
  { path: '/asset/*', component: AssetPage },
  { path: '/lineage/*', component: LineagePage },
  { path: '/impact/*', component: ImpactPage },
  { path: '/schema-check', component: SchemaCheckPage, nav: 'Schema check' },
  { path: '/violations', component: ViolationsPage, nav: 'Violations' },
  { path: '/classifications', component: ClassificationsPage, nav: 'Classifications' },
  { path: '/sources', component: SourcesPage, nav: 'Sources' },
  { path: '/webhooks', component: WebhooksPage, nav: 'Webhooks' },
  { path: '/webhooks/:id', component: WebhookPage },
  { path: '/changes', component: ChangesPage, nav: 'Activity' },
]
