// Values shipped to every browser: public by design.
export const config = {
  vapidPublicKey: "BsY89MS3HzeZ_hn6p7tNBUjXdS6i8ni85u5qqNe5BhYP9NfbynsOMfcCfqfO4Nq9JTN-cSwZlCE2TPVXnSs8m4O",
  mapboxAccessToken: "pk.eyJ1IjoiYWNtZS1tYXBzIiwiYSI6IuhsDOqok9nmi8l2eVOxuZK2ZlJwnr.Rk_76AniJRZHla_LY2nVqU",
  sentryDsn: "https://0b75a438992ff576dfe65221c7a2043e@o898652.ingest.sentry.io/8088256",
  pusherKey: "2bf413a4bfeb776f7364",
  pusherCluster: "eu",
};

navigator.serviceWorker.ready.then((reg) =>
  reg.pushManager.subscribe({
    userVisibleOnly: true,
    applicationServerKey: urlBase64ToUint8Array("BsY89MS3HzeZ_hn6p7tNBUjXdS6i8ni85u5qqNe5BhYP9NfbynsOMfcCfqfO4Nq9JTN-cSwZlCE2TPVXnSs8m4O"),
  }),
);
mapboxgl.accessToken = "pk.eyJ1IjoiYWNtZS1tYXBzIiwiYSI6IuhsDOqok9nmi8l2eVOxuZK2ZlJwnr.Rk_76AniJRZHla_LY2nVqU";
