// plotly.js is large (about 1.3 MB gzipped), so it is fetched only when a run is about to
// show charts; everything else on the page works without it.

const PLOTLY_URL = "/static-vendor/plotly.min.js";
let loading = null;

/** Resolves to the global Plotly object; one fetch however often it is called. */
export function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = PLOTLY_URL;
      script.async = true;
      script.onload = () =>
        window.Plotly ? resolve(window.Plotly) : reject(new Error("plotly.js did not load"));
      script.onerror = () => {
        loading = null;
        script.remove();
        reject(new Error("plotly.js could not be fetched from " + PLOTLY_URL));
      };
      document.head.append(script);
    });
  }
  return loading;
}
