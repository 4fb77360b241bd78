package net.quickauth.desktop

import android.Manifest
import android.content.pm.PackageManager
import android.graphics.Bitmap
import android.net.Uri
import android.os.Message
import android.view.View
import android.webkit.ConsoleMessage
import android.webkit.GeolocationPermissions
import android.webkit.JsPromptResult
import android.webkit.JsResult
import android.webkit.PermissionRequest
import android.webkit.ValueCallback
import android.webkit.WebChromeClient
import android.webkit.WebView
import androidx.core.content.ContextCompat

/**
 * QuickAuth's camera policy for the webview, wrapped around wry's RustWebChromeClient (which keeps doing
 * everything else: file chooser, JS dialogs, console, titles).
 *
 * The page scans labels with getUserMedia({video}). A permission request is granted only when
 *  - it comes from the app's own page (tauri.localhost), never from anything the webview navigated to,
 *  - and then only for RESOURCE_VIDEO_CAPTURE (never the microphone, MIDI or protected media),
 *  - and only after Android's runtime CAMERA permission is granted: asked for here, on the first request,
 *    through WryActivity's permission launcher. A denial denies the page, which then shows the image /
 *    manual-entry screen with its own message.
 */
class QuickAuthChromeClient(
  private val activity: WryActivity,
  private val inner: WebChromeClient,
) : WebChromeClient() {
  private companion object {
    const val APP_HOST = "tauri.localhost"
  }

  override fun onPermissionRequest(request: PermissionRequest) {
    val wantsVideo = request.resources.contains(PermissionRequest.RESOURCE_VIDEO_CAPTURE)
    if (!wantsVideo || request.origin?.host != APP_HOST) {
      request.deny()
      return
    }
    val videoOnly = arrayOf(PermissionRequest.RESOURCE_VIDEO_CAPTURE)
    val granted = ContextCompat.checkSelfPermission(activity, Manifest.permission.CAMERA) ==
      PackageManager.PERMISSION_GRANTED
    if (granted) {
      request.grant(videoOnly)
      return
    }
    activity.requestPermissions(arrayOf(Manifest.permission.CAMERA)) { ok ->
      activity.runOnUiThread {
        if (ok == true) request.grant(videoOnly) else request.deny()
      }
    }
  }

  override fun onPermissionRequestCanceled(request: PermissionRequest) =
    inner.onPermissionRequestCanceled(request)

  // Everything below is wry's behaviour, unchanged.
  override fun onShowCustomView(view: View, callback: CustomViewCallback) =
    inner.onShowCustomView(view, callback)

  override fun onHideCustomView() = inner.onHideCustomView()

  override fun getDefaultVideoPoster(): Bitmap? = inner.defaultVideoPoster

  override fun onJsAlert(view: WebView, url: String, message: String, result: JsResult): Boolean =
    inner.onJsAlert(view, url, message, result)

  override fun onJsConfirm(view: WebView, url: String, message: String, result: JsResult): Boolean =
    inner.onJsConfirm(view, url, message, result)

  override fun onJsPrompt(
    view: WebView,
    url: String,
    message: String,
    defaultValue: String?,
    result: JsPromptResult,
  ): Boolean = inner.onJsPrompt(view, url, message, defaultValue, result)

  override fun onGeolocationPermissionsShowPrompt(
    origin: String,
    callback: GeolocationPermissions.Callback,
  ) = inner.onGeolocationPermissionsShowPrompt(origin, callback)

  override fun onShowFileChooser(
    webView: WebView,
    filePathCallback: ValueCallback<Array<Uri>>,
    fileChooserParams: FileChooserParams,
  ): Boolean = inner.onShowFileChooser(webView, filePathCallback, fileChooserParams)

  override fun onConsoleMessage(consoleMessage: ConsoleMessage): Boolean =
    inner.onConsoleMessage(consoleMessage)

  override fun onReceivedTitle(view: WebView, title: String?) = inner.onReceivedTitle(view, title)

  override fun onProgressChanged(view: WebView, newProgress: Int) =
    inner.onProgressChanged(view, newProgress)

  override fun onCreateWindow(
    view: WebView,
    isDialog: Boolean,
    isUserGesture: Boolean,
    resultMsg: Message,
  ): Boolean = inner.onCreateWindow(view, isDialog, isUserGesture, resultMsg)
}
