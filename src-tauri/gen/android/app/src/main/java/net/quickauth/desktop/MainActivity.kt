package net.quickauth.desktop

import android.os.Build
import android.os.Bundle
import android.webkit.WebView
import androidx.activity.enableEdgeToEdge

class MainActivity : TauriActivity() {
  override fun onCreate(savedInstanceState: Bundle?) {
    enableEdgeToEdge()
    super.onCreate(savedInstanceState)
  }

  // QuickAuth: wry calls this from setWebView(), *before* it installs its RustWebChromeClient on the same
  // main-thread pass. The posted runnable runs after that pass, wraps wry's client and narrows its camera
  // permission handling (see QuickAuthChromeClient). WebView.getWebChromeClient() needs API 26; on API 24/25
  // wry's own client stays, which also asks for CAMERA at run time before granting the page.
  override fun onWebViewCreate(webView: WebView) {
    super.onWebViewCreate(webView)
    if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.O) {
      webView.post {
        val inner = webView.webChromeClient
        if (inner != null && inner !is QuickAuthChromeClient) {
          webView.webChromeClient = QuickAuthChromeClient(this, inner)
        }
      }
    }
  }
}
