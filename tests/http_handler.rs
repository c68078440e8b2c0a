//! Plain HTTP requests on the hub's port go to the program's handler (path in; status,
//! content type and body out); without one they get a proper error, and WebSocket
//! upgrades keep working beside the handler.

mod support;

use support::{Client, http, start_default};
use wshub::HttpResponse;

fn addr(server: &wshub::Server) -> String {
    server.local_addr().to_string()
}

#[test]
fn the_handler_answers_plain_requests() {
    let (hub, server) = start_default();
    hub.set_http_handler(|request| match request.path() {
        "/" => HttpResponse::with_type(200, "text/html; charset=utf-8", "<h1>hi</h1>"),
        "/echo" => HttpResponse::text(200, request.query().unwrap_or("none").to_owned()),
        _ => HttpResponse::text(404, "nothing here\n"),
    });

    let page = http(&addr(&server), "GET", "/");
    assert_eq!((page.status, page.body.as_str()), (200, "<h1>hi</h1>"));
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(page.header("content-length"), Some("11"));

    let echo = http(&addr(&server), "GET", "/echo?a=1&b");
    assert_eq!((echo.status, echo.body.as_str()), (200, "a=1&b"));
    let head = http(&addr(&server), "HEAD", "/");
    assert_eq!((head.status, head.body.as_str()), (200, ""));
    assert_eq!(http(&addr(&server), "GET", "/missing").status, 404);

    let mut client = Client::connect(&server);
    client.subscribe("beside-the-handler");
    drop(client);
    hub.shutdown();
}

#[test]
fn without_a_handler_plain_requests_get_an_error() {
    let (hub, server) = start_default();
    let root = http(&addr(&server), "GET", "/");
    assert_eq!(root.status, 404);
    let ws = http(&addr(&server), "GET", "/ws");
    assert_eq!(ws.status, 400);
    assert!(ws.body.contains("WebSocket"), "{}", ws.body);
    hub.shutdown();
}

#[test]
fn a_panicking_handler_is_answered_500() {
    let (hub, server) = start_default();
    hub.set_http_handler(|_| panic!("on purpose"));
    assert_eq!(http(&addr(&server), "GET", "/").status, 500);
    hub.set_http_handler(|_| HttpResponse::text(200, "replaced"));
    assert_eq!(http(&addr(&server), "GET", "/").body, "replaced");
    hub.shutdown();
}
