import { Component, type ReactNode } from 'react'

/** ErrorBoundary turns a render error into a message instead of a blank page. */
export class ErrorBoundary extends Component<{ children: ReactNode }, { error?: Error }> {
  state: { error?: Error } = {}
  static getDerivedStateFromError(error: Error) {
    return { error }
  }
  render() {
    if (this.state.error) {
      return (
        <div className="page">
          <div className="error" role="alert">
            <strong>This page failed to render: </strong>
            {this.state.error.message}
          </div>
        </div>
      )
    }
    return this.props.children
  }
}
