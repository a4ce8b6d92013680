// The support and operator page: plain JS, no build step. Hash routes: #/ (search) and
// #/sagas/<id> (timeline). The token lives in sessionStorage and travels as a bearer header.
'use strict'

const API = '/api/orchestrator'
const $ = (id) => document.getElementById(id)
const state = { token: sessionStorage.getItem('sagaToken'), role: null, userId: null, statuses: [], nextCursor: null, stream: null, poll: null, listGeneration: 0 }

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag)
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue
    if (key === 'class') node.className = value
    else node.setAttribute(key, value)
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null) node.append(child instanceof Node ? child : String(child))
  }
  return node
}

async function api(path, options = {}) {
  const response = await fetch(API + path, {
    ...options,
    headers: { authorization: `Bearer ${state.token}`, ...(options.body ? { 'content-type': 'application/json' } : {}), ...options.headers },
  })
  const body = response.headers.get('content-type')?.includes('json') ? await response.json() : null
  if (response.status === 401) { signOut('Your token was not accepted.'); throw new Error('unauthorized') }
  if (!response.ok && response.status !== 202) {
    const error = new Error(body?.error?.message ?? `HTTP ${response.status}`)
    error.code = body?.error?.code
    throw error
  }
  return body
}

function show(section) {
  for (const id of ['sign-in', 'list', 'saga']) $(id).hidden = id !== section
  $('main').focus()
}

function signOut(message = '') {
  sessionStorage.removeItem('sagaToken')
  state.token = null
  state.role = null
  state.userId = null
  stopLive()
  $('who').textContent = ''
  $('sign-out').hidden = true
  $('sign-in-error').textContent = message
  show('sign-in')
}

async function route() {
  stopLive()
  if (!state.token) return show('sign-in')
  if (!state.role) {
    try {
      const me = await api('/me')
      state.role = me.role
      state.userId = me.userId ?? null
      state.statuses = me.statuses ?? []
    } catch { return }
    $('who').textContent = `Signed in as ${state.role}${state.userId ? ` ${state.userId}` : ''}`
    $('sign-out').hidden = false
  }
  const match = location.hash.match(/^#\/sagas\/([0-9a-f-]{36})$/i)
  if (match) return showSaga(match[1])
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '')
  return showList(params)
}

// ---------------------------------------------------------------- list

function time(iso) {
  return iso ? new Date(iso).toLocaleString() : ''
}

function statusBadge(status) {
  return el('span', { class: `status status-${status}` }, status)
}

async function showList(params) {
  // A newer route (a hash change while this one loads) wins: its rows, not both.
  const generation = ++state.listGeneration
  show('list')
  const form = $('filters')
  for (const field of form.elements) {
    if (!field.name) continue
    const value = params.get(field.name) ?? ''
    field.value = field.type === 'datetime-local' && value ? value.slice(0, 16) : value
  }
  $('rows').replaceChildren()
  state.nextCursor = null
  await loadCounts()
  if (generation !== state.listGeneration) return
  // The status list exists now: show the filter the page was opened with.
  $('f-status').value = params.get('status') ?? ''
  await loadPage(params, generation)
}

const isStaff = () => state.role === 'support' || state.role === 'operator'

// The statuses come from the server (its one list, in /me); counts are over every saga: for
// support staff only.
async function loadCounts() {
  const select = $('f-status')
  const chosen = select.value
  select.replaceChildren(el('option', { value: '' }, 'any'), ...state.statuses.map((status) => el('option', { value: status }, status)))
  select.value = chosen
  if (!isStaff()) { $('counts').replaceChildren(); return }
  const { counts, incidents } = await api('/sagas/stats')
  $('counts').replaceChildren(
    ...state.statuses.map((status) => el('a', { href: `#/?status=${status}`, 'aria-label': `${counts[status] ?? 0} ${status}` }, statusBadge(status), ` ${counts[status] ?? 0}`)),
    ...Object.entries(incidents).sort().map(([code, count]) =>
      el('a', { href: `#/?incidentCode=${encodeURIComponent(code)}`, class: 'incident-count', 'aria-label': `${count} waiting on ${code}` }, `${code} ${count}`)))
}

async function loadPage(params, generation = state.listGeneration) {
  const query = new URLSearchParams()
  for (const [key, value] of params) {
    if (!value) continue
    query.set(key, key.startsWith('created') ? new Date(value).toISOString() : value)
  }
  query.set('limit', '50')
  // A client searches the sagas it started (an end user always sees only its own).
  if (state.role === 'client') query.set('mine', '1')
  if (state.nextCursor) query.set('cursor', state.nextCursor)
  const page = await api(`/sagas?${query}`)
  if (generation !== state.listGeneration) return
  $('rows').append(...page.items.map((saga) => el('tr', {},
    el('td', {}, el('a', { href: `#/sagas/${saga.sagaId}` }, saga.sagaId.slice(0, 8))),
    el('td', {}, saga.type),
    el('td', {}, saga.userId ?? ''),
    el('td', {}, statusBadge(saga.status)),
    el('td', {}, saga.state),
    el('td', {}, saga.incident ? `${saga.incident.code} at ${saga.incident.step}` : saga.error?.code ?? ''),
    el('td', {}, time(saga.createdAt)))))
  state.nextCursor = page.nextCursor
  $('more').hidden = !page.nextCursor
  $('list-empty').hidden = $('rows').children.length > 0
  $('more').onclick = () => loadPage(params)
}

// ---------------------------------------------------------------- one saga

async function showSaga(sagaId) {
  show('saga')
  $('action-result').textContent = ''
  $('tour-analytics').hidden = true
  let saga
  try {
    saga = await api(`/sagas/${sagaId}`)
    render(saga)
  } catch (error) {
    $('saga-title').textContent = error.code === 'SAGA_NOT_FOUND' ? 'No such saga' : `Could not load the saga: ${error.message}`
    return
  }
  startLive(sagaId)
  loadTourFigures(saga).catch(() => {})
}

// A tour booking's tour, as the analytics service counts it (support staff and operators).
async function loadTourFigures(saga) {
  const tourId = saga.input?.tourId
  if (saga.type !== 'tour-booking' || typeof tourId !== 'string' || !['support', 'operator'].includes(state.role)) return
  $('tour-analytics').hidden = false
  $('tour-figures').replaceChildren()
  $('tour-figures-note').textContent = 'Loading…'
  let figures
  try {
    figures = await api(`/analytics/tours/${encodeURIComponent(tourId)}`)
  } catch (error) {
    $('tour-figures-note').textContent = `Figures unavailable: ${error.message}`
    return
  }
  const money = (amount) => (figures.currency ? `${Number(amount).toFixed(2)} ${figures.currency}` : '–')
  $('tour-figures').replaceChildren(
    ...fact('Tour', figures.tourId),
    ...fact('Bookings', String(figures.bookings)),
    ...fact('Cancellations', String(figures.cancellations)),
    ...fact('Cancellation rate', `${(Number(figures.cancellationRate) * 100).toFixed(1)} %`),
    ...fact('Revenue', money(figures.revenue)),
    ...fact('Refunded', money(figures.refunded)),
  )
  $('tour-figures-note').textContent = 'From the domain events (booking.confirmed, booking.canceled): a few seconds behind at most.'
}

function render(saga) {
  $('saga-title').replaceChildren(`Saga ${saga.sagaId.slice(0, 8)} `, statusBadge(saga.status))
  const resources = Object.entries(saga.resources ?? {})
  $('saga-facts').replaceChildren(
    ...fact('Id', saga.sagaId),
    ...fact('Type', saga.type),
    ...(typeof saga.input?.userId === 'string' ? fact('User', saga.input.userId) : []),
    ...fact('State', saga.state),
    ...fact('Created', time(saga.createdAt)),
    ...fact('Updated', time(saga.updatedAt)),
    ...(saga.completedAt ? fact('Finished', time(saga.completedAt)) : []),
    ...resources.flatMap(([name, id]) => fact(name, resourceLink(name, id))),
  )
  const errors = []
  if (saga.error) errors.push(errorBox('Failed', saga.error))
  if (saga.compensationError) errors.push(errorBox('Compensation failed', saga.compensationError))
  $('saga-error').replaceChildren(...errors)
  $('saga-incident').replaceChildren(...(saga.incident ? [incidentBox(saga)] : []))

  // The actions the saga allows now (the server decides); operators only.
  const operator = state.role === 'operator'
  const actions = operator ? saga.actions ?? [] : []
  $('actions').hidden = actions.length === 0
  $('actions').replaceChildren(...actions.map((action) => {
    const button = el('button', { type: 'button', class: ACTIONS[action].danger ? 'danger' : undefined }, ACTIONS[action].label)
    button.onclick = () => act(saga, action)
    return button
  }))

  const steps = [...saga.steps].sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : 0))
  $('timeline').replaceChildren(...steps.map((step) => el('li', { class: step.phase },
    el('strong', {}, step.name), ' ',
    el('span', { class: 'muted' }, step.phase === 'compensation' ? 'compensation' : 'forward'), ' ',
    statusBadge(step.status),
    el('div', { class: 'muted' },
      `${step.attempts} attempt${step.attempts === 1 ? '' : 's'}`,
      step.finishedAt ? ` · ${Math.max(0, new Date(step.finishedAt) - new Date(step.startedAt))} ms` : ' · in progress',
      ` · started ${time(step.startedAt)}`),
    step.lastError ? el('div', { class: 'error' },
      `${step.lastError.code}: ${step.lastError.message}`,
      step.lastError.participant ? ` (${step.lastError.participant}${step.lastError.status ? ` answered ${step.lastError.status}` : ''})` : '') : null)))
  $('live').textContent = ['RUNNING', 'COMPENSATING'].includes(saga.status) ? 'Updating live…' : ''
  loadLog(saga.sagaId).catch(() => {})
}

function fact(name, value) {
  return [el('dt', {}, name), el('dd', {}, value)]
}

function resourceLink(name, id) {
  // Other sagas about the same booking or reservation (e.g. its cancellation).
  if (name === 'bookingId' || name === 'reservationId') return el('a', { href: `#/?${name}=${encodeURIComponent(id)}` }, id)
  return id
}

function incidentBox(saga) {
  const incident = saga.incident
  const waits = saga.status === 'COMPENSATION_FAILED' ? 'Its undo needs an operator' : 'It needs an operator'
  return el('div', { class: 'error-box incident', role: 'note' },
    el('strong', {}, `${waits}: ${incident.code} at ${incident.step} (${incident.phase})`),
    el('div', {}, incident.message),
    el('div', { class: 'muted' },
      `${incident.kind} · ${incident.attempts} attempt${incident.attempts === 1 ? '' : 's'} · since ${time(incident.since)}`,
      incident.participant ? ` · ${incident.participant}${incident.participantStatus ? ` answered ${incident.participantStatus}` : ''}` : ''),
    state.role === 'operator' && saga.actions?.length ? el('div', { class: 'muted' }, `Can be: ${saga.actions.join(', ')}`) : null)
}

function errorBox(title, error) {
  return el('div', { class: 'error-box', role: 'note' },
    el('strong', {}, `${title}: ${error.code}`),
    el('div', {}, error.message),
    el('div', { class: 'muted' }, `at step ${error.step}${error.participant ? `, answered by ${error.participant}` : ''}`))
}

// What each action is called, what the operator is asked, and whether a reason is required
// (the server's rule: skip, resolve and pause need one).
const ACTIONS = {
  retry: { label: 'Retry', question: 'Retry this saga? It re-runs the step it stopped at. Reason (optional):' },
  abort: { label: 'Abort', danger: true, question: 'Abort this saga? Everything it did so far is undone. Reason (optional):' },
  skip: { label: 'Skip step', danger: true, needsReason: true, question: 'Mark the parked step as done by hand and go on? Reason:' },
  resolve: { label: 'Resolve', danger: true, needsReason: true, question: 'Close the failed undo as done by hand and go on compensating? Reason:' },
  pause: { label: 'Pause', needsReason: true, question: 'Stop driving this saga until it is resumed? Reason:' },
  resume: { label: 'Resume', question: 'Take this saga up again? Reason (optional):' },
}

async function act(saga, action) {
  const { label, question, needsReason } = ACTIONS[action]
  const reason = window.prompt(question, '')
  if (reason === null) return
  if (needsReason && !reason.trim()) {
    $('action-result').textContent = `${label} needs a reason.`
    return
  }
  try {
    const result = await api(`/sagas/${saga.sagaId}/${action}`, { method: 'POST', body: JSON.stringify(reason.trim() ? { reason: reason.trim() } : {}) })
    $('action-result').textContent = `${label} accepted: ${result.status}`
    render(result)
    startLive(saga.sagaId)
  } catch (error) {
    $('action-result').textContent = `${label} refused: ${error.code ?? ''} ${error.message}`
  }
}

async function loadLog(sagaId) {
  const { events } = await api(`/sagas/${sagaId}/log`)
  $('log').replaceChildren(...events.map((event) => el('li', {},
    el('span', { class: 'muted' }, time(event.createdAt)), ' ',
    el('strong', {}, event.type), ' ',
    event.step ? `${event.step} ` : '',
    statusBadge(event.status),
    event.detail?.actor ? el('span', { class: 'muted' }, ` by ${event.detail.actor}`) : null,
    event.detail?.reason ? el('span', {}, `: ${event.detail.reason}`) : null)))
}

// Live updates: server-sent events read through fetch (EventSource cannot send a bearer
// header). If the stream fails, poll every 2 s instead.
function startLive(sagaId) {
  stopLive()
  const controller = new AbortController()
  state.stream = controller
  fetch(`${API}/sagas/${sagaId}/events`, { headers: { authorization: `Bearer ${state.token}`, accept: 'text/event-stream' }, signal: controller.signal })
    .then(async (response) => {
      if (!response.ok || !response.body) throw new Error('no stream')
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      let buffer = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buffer += value
        let end
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const message = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = message.split('\n').filter((line) => line.startsWith('data: ')).map((line) => line.slice(6)).join('\n')
          if (message.includes('event: saga') && data) render(JSON.parse(data))
        }
      }
    })
    .catch(() => {
      if (controller.signal.aborted) return
      state.poll = setInterval(async () => render(await api(`/sagas/${sagaId}`)), 2_000)
    })
}

function stopLive() {
  state.stream?.abort()
  state.stream = null
  clearInterval(state.poll)
  state.poll = null
}

// ---------------------------------------------------------------- wiring

$('sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault()
  state.token = $('token').value.trim()
  sessionStorage.setItem('sagaToken', state.token)
  $('token').value = ''
  $('sign-in-error').textContent = ''
  await route()
})
$('sign-out').addEventListener('click', () => signOut())
$('filters').addEventListener('submit', (event) => {
  event.preventDefault()
  const params = new URLSearchParams()
  for (const field of event.target.elements) if (field.name && field.value) params.set(field.name, field.value)
  location.hash = `#/?${params}`
})
window.addEventListener('hashchange', route)
route()
