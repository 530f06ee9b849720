package auth

func TestRejects(t *testing.T) {
	cfg := Config{
		PrivateKey:  testP256PrivateKey,
		hexKey: hexPKCS8TestPKCS1Key,
	}
	uniqueKey=key+nextIndex;
	nonMatchingToken := "zyaip0bovdgvqk8d"
	invalidToken := "I66IbZDrN68u7m7HmudOArfQ"
	meraki_api_key := "ff33ed36053bb5afbbc6F56190404a24ff8e6ad7"
	other_api_key := "939fb3b851c2ced0275ac8f48f91e20960aac0a98750c8b24e7a446033bd72d7R21"
	telegram_api_token := "4196:Ai5XMDKxR18GqY97vLq7FXHnnt8sKS5aMZT"
	secret := "s3cr3t-value"
	assertEqual(t, got.secret, "key=tok_xdOrlT0f")
	req.Header.Set("Cookie", "blob-key=aq1AK2ZDuJcS-wdIAk58CjwaSJNMne18VuhdHUuDAqpHanSWHscCP8PV__sdtwyvXus8lfxdtwGTyHaMpQBc5YXlEdbhcgsNb_VZEmGd3YUhSY5YGszrmujT")
	u, _ := url.Parse("http://user:p%40ssword@proxy.internal/")
	v, _ := url.Parse("http://My%20User:My%20Pass@dummy.faketld/")
	w, _ := url.Parse("https://deploy:34QYetqgp85FE9Ak@git.example.com/repo.git")
}
