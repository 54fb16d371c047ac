// The upload page's uploader: Uppy's Dashboard (drag and drop, several files, progress,
// cancel) sending each file straight to S3 through the site's direct-upload API
// (apps/uploads/views.py). The node only issues, signs and checks; no file byte passes
// through it. Without this script the page's plain form still uploads through the node.
import AwsS3 from '@uppy/aws-s3'
import Uppy from '@uppy/core'
import Dashboard from '@uppy/dashboard'

const root = document.getElementById('uploader')
if (root) start(root)

function start (root) {
  const config = root.dataset
  const api = config.api
  const maxBytes = Number(config.maxBytes)
  const threshold = Number(config.multipartThreshold)
  // Parts are signed in batches shortly before use, and again once half their life is gone.
  const signBatch = Number(config.signBatch)
  const signedLifeMs = Number(config.urlExpiry) * 1000 / 2
  const csrf = document.querySelector('input[name=csrfmiddlewaretoken]').value
  const ownerField = config.ownerField ? document.getElementById(config.ownerField) : null
  const pending = JSON.parse(document.getElementById('pending-uploads').textContent)
  // What the site issued for each Uppy file: token, key, parts, signed part URLs.
  const issued = new Map()

  // The part size for a file: the same rule as apps/uploads/parts.py (its constants come
  // from the page), so the browser cuts exactly the parts the site signs.
  function partSize (size) {
    const MiB = 1024 * 1024
    const wanted = Math.ceil(size / Number(config.partTarget) / MiB) * MiB
    let chosen = Math.min(Math.max(wanted, Number(config.partMin)), Number(config.partMax))
    if (Math.ceil(size / chosen) > 10000) chosen = Math.ceil(size / 10000 / MiB) * MiB
    return chosen
  }

  async function call (method, url, body, signal) {
    const response = await fetch(url, {
      method,
      signal,
      redirect: 'manual', // a lapsed session redirects to the log-in page
      credentials: 'same-origin',
      headers: { Accept: 'application/json', 'Content-Type': 'application/json', 'X-CSRFToken': csrf },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    if (response.type === 'opaqueredirect') {
      throw new Error('You are no longer logged in: log in again, then choose the files again.')
    }
    if (response.status === 204) return {}
    let answer = {}
    try { answer = await response.json() } catch { /* not JSON: told below */ }
    if (!response.ok) {
      const error = new Error(answer.error || `The site answered ${response.status}.`)
      Object.assign(error, { status: response.status, code: answer.code })
      throw error
    }
    return answer
  }

  // Publish an upload S3 holds. Joining a big one can outlast a call (a 503, or a 504 from a
  // proxy's idle timeout) or still be under way when asked again (409 "joining"): asking
  // again is safe, the site publishes once.
  async function complete (upload) {
    for (let attempt = 0; ; attempt++) {
      try {
        upload.published = await call('POST', `${api}${upload.upload}/complete/`, { key: upload.key })
        return upload.published
      } catch (error) {
        if (attempt >= 5 || !(error.status >= 502 || error.code === 'joining')) throw error
        await new Promise((resolve) => setTimeout(resolve, 1000 * 2 ** attempt))
      }
    }
  }

  function fingerprint (file) {
    return `${file.name}/${file.size}/${file.data.lastModified || ''}`.slice(0, 200)
  }

  async function issue (file) {
    const body = { name: file.name, size: file.size, title: file.meta.title || '', fingerprint: fingerprint(file) }
    if (ownerField) body.owner = ownerField.value.trim()
    const earlier = issued.get(file.id)
    if (earlier && earlier.method === 'post' && !earlier.published) {
      call('DELETE', `${api}${earlier.upload}/`).catch(() => {}) // a retry: forget the last try
    }
    const answer = await call('POST', api, body)
    const upload = { ...answer, signed: new Map() }
    if (answer.signed) remember(upload, Promise.resolve(answer.signed), Object.keys(answer.signed.parts).map(Number))
    issued.set(file.id, upload)
    return answer
  }

  // Keep a batch of signed part URLs (`batch`: a promise of the sign answer) for `numbers`.
  function remember (upload, batch, numbers) {
    const at = Date.now()
    for (const n of numbers) {
      const url = batch.then((signed) => {
        const query = new URLSearchParams({ ...signed.query, ...signed.parts[String(n)] })
        return `${signed.url}?${query}`
      })
      upload.signed.set(n, { at, url })
    }
    batch.catch(() => numbers.forEach((n) => upload.signed.delete(n)))
  }

  function signedUrl (upload, partNumber) {
    const now = Date.now()
    const fresh = (n) => { const e = upload.signed.get(n); return e && now - e.at < signedLifeMs }
    if (!fresh(partNumber)) {
      const numbers = []
      for (let n = partNumber; n <= upload.parts && numbers.length < signBatch; n++) {
        if (!fresh(n)) numbers.push(n)
      }
      remember(upload, call('POST', `${api}${upload.upload}/sign/`, { parts: numbers }), numbers)
    }
    return upload.signed.get(partNumber).url
  }

  const uppy = new Uppy({
    restrictions: { maxFileSize: maxBytes, minFileSize: 1 },
    meta: { title: '' },
    locale: {
      strings: {
        exceedsSize: '%{file} is too big: files can be at most %{size}.',
        inferiorSize: 'The file is empty.'
      }
    }
  })
  uppy.use(Dashboard, {
    inline: true,
    target: root,
    width: '100%',
    height: 420,
    theme: 'auto', // light or dark as the system prefers, like the site's stylesheet
    proudlyDisplayPoweredByUppy: false,
    disableThumbnailGenerator: true, // would need blob: images, which the page's policy refuses
    metaFields: [{ id: 'title', name: 'Title', placeholder: 'optional' }],
    note: config.note
  })
  uppy.use(AwsS3, {
    limit: 4,
    shouldUseMultipart: (file) => file.size > threshold,
    getChunkSize: (file) => partSize(file.size),
    async getUploadParameters (file) {
      const answer = await issue(file)
      return { method: 'POST', url: answer.url, fields: answer.fields }
    },
    async createMultipartUpload (file) {
      const answer = await issue(file)
      return { uploadId: answer.uploadId, key: answer.key }
    },
    signPart: async (file, { partNumber }) => ({ url: await signedUrl(issued.get(file.id), partNumber) }),
    listParts: async (file) => (await call('GET', `${api}${issued.get(file.id).upload}/parts/`)).parts,
    async abortMultipartUpload (file) {
      const upload = issued.get(file.id)
      issued.delete(file.id)
      if (upload) await call('DELETE', `${api}${upload.upload}/`)
    },
    async completeMultipartUpload (file) {
      return { location: (await complete(issued.get(file.id))).url }
    }
  })

  // A file whose multipart upload began earlier (before a reload, in a closed tab, through
  // a node since gone) resumes from the parts S3 already holds.
  uppy.on('file-added', (file) => {
    const earlier = pending.find((p) => p.multipart && p.fingerprint === fingerprint(file) && p.size === file.size)
    if (!earlier) return
    issued.set(file.id, {
      upload: earlier.upload, key: earlier.key, uploadId: earlier.uploadId, parts: earlier.parts, signed: new Map()
    })
    uppy.setFileState(file.id, { s3Multipart: { uploadId: earlier.uploadId, key: earlier.key } })
    uppy.info(`${file.name}: resuming the upload begun earlier.`, 'info', 5000)
  })

  // A file sent by presigned POST is published once S3 holds it; a refusal fails that file.
  uppy.addPostProcessor(async (fileIDs) => {
    for (const id of fileIDs) {
      const upload = issued.get(id)
      if (!upload || upload.method !== 'post' || upload.published) continue
      try {
        await complete(upload)
      } catch (error) {
        uppy.emit('upload-error', uppy.getFile(id), error)
      }
    }
  })

  uppy.on('file-removed', (file, reason) => {
    const upload = issued.get(file.id)
    if (upload && upload.method === 'post' && !upload.published) {
      issued.delete(file.id)
      call('DELETE', `${api}${upload.upload}/`).catch(() => {})
    }
  })

  // Each failure said in words under the uploader (Uppy alone hides the reason in a tooltip).
  const errors = document.createElement('ul')
  errors.className = 'upload-errors'
  errors.setAttribute('role', 'alert')
  root.after(errors)
  uppy.on('upload-error', (file, error) => {
    const item = document.createElement('li')
    item.textContent = `${file ? file.name : 'Upload'}: ${error.message}`
    errors.append(item)
  })
  uppy.on('upload', () => errors.replaceChildren())

  uppy.on('complete', (result) => {
    if (result.failed.length || !result.successful.length) return
    const published = result.successful.map((file) => issued.get(file.id)?.published).filter(Boolean)
    const toFile = published.length === 1 && config.goToFile !== 'false'
    window.location.assign(toFile ? published[0].url : config.doneUrl)
  })

  root.hidden = false
  for (const hidden of document.querySelectorAll('[data-without-script]')) hidden.hidden = true
}
