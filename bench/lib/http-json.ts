import http from 'node:http'

// A small JSON client on a keep-alive agent, for driving the services from the coordinator.

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })

export interface JsonResponse {
  status: number
  body: any
  text: string
}

export function requestJson(method: string, url: string, options: { headers?: Record<string, string>; body?: unknown } = {}): Promise<JsonResponse> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body)
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method,
      agent,
      headers: { ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}), ...options.headers },
    }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { text += chunk })
      response.on('end', () => {
        let body: unknown = text
        try {
          body = text ? JSON.parse(text) : null
        } catch {
          // not JSON: keep the text
        }
        resolve({ status: response.statusCode ?? 0, body, text })
      })
    })
    request.on('error', reject)
    request.setTimeout(60_000, () => request.destroy(new Error(`${method} ${url} timed out`)))
    if (payload) request.write(payload)
    request.end()
  })
}

export function closeAgent(): void {
  agent.destroy()
}
