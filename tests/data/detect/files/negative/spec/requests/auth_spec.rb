RSpec.describe "auth" do
  let(:sample_jwt) { "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI3Iiwicm9sZSI6ImFkbWluIn0.3jtFP7l3pTSiXPYB5XpzanqnSoDHASiCVuvQc-4tM3I" }

  it "accepts the token" do
    get "/me", headers: { "X-Token" => sample_jwt }
    expect(response).to have_http_status(:ok)
  end
end
