import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { Provider } from 'urql'
import { createApi, localTokenStore } from './api/client'
import { LiveProvider } from './api/live'
import { App } from './App'
import './styles.css'

const api = createApi(localTokenStore)
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Provider value={api.client}>
      <LiveProvider api={api}>
        <App tokens={localTokenStore} />
      </LiveProvider>
    </Provider>
  </StrictMode>,
)
