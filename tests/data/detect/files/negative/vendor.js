function parse(dollarToken) {
    dollarToken = +dollarToken;
    return dollarToken;
}
