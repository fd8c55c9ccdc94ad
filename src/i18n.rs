//! What readers and the newsroom read, in English and Turkish: every text of the public
//! pages, the system mails and the desk (`desk.*`), by key. Templates ask for a text with `t("key")`; code with [`text`].
//!
//! Texts with `{name}` placeholders are filled by the caller, which escapes what it puts in.

use crate::domain::Lang;

macro_rules! catalog {
    ($($key:literal => ($en:literal, $tr:literal)),+ $(,)?) => {
        /// Every key, for the test that code and templates ask for no missing text.
        #[cfg(test)]
        const KEYS: &[&str] = &[$($key),+];

        /// The text for `key`, or `None` for an unknown key.
        pub(crate) fn lookup(lang: Lang, key: &str) -> Option<&'static str> {
            match (key, lang) {
                $(($key, Lang::En) => Some($en), ($key, Lang::Tr) => Some($tr),)+
                _ => None,
            }
        }
    };
}

catalog! {
    "lang.name" => ("English", "Türkçe"),
    "site.tagline" => (
        "Keep up to date with what's happening in Türkiye, its region and the world.",
        "Türkiye'de, bölgesinde ve dünyada olup bitenlerden haberdar olun."
    ),
    "form.title" => ("Subscribe to our newsletters", "Bültenlerimize abone olun"),
    "form.email" => ("Email address", "E-posta adresi"),
    "form.name" => ("Name (optional)", "Adınız (isteğe bağlı)"),
    "form.topics" => ("Topics", "Konular"),
    "form.topics_hint" => ("Choose at least one.", "En az birini seçin."),
    "form.submit" => ("Subscribe", "Abone ol"),
    "form.honeypot" => ("Leave this field empty", "Bu alanı boş bırakın"),
    "form.errors" => ("Please correct the following:", "Lütfen şunları düzeltin:"),
    "form.pow" => ("Anti-bot check", "Bot denetimi"),
    "form.protected" => (
        "This form is protected by a small calculation your browser makes to show it is not a bot. No third party sees you.",
        "Bu form, tarayıcınızın bot olmadığını göstermek için yaptığı küçük bir hesaplamayla korunur. Hiçbir üçüncü taraf sizi görmez."
    ),
    "form.noscript" => (
        "This form needs JavaScript for one thing only: the small calculation that shows your browser is not a bot, made without any third party. Please turn JavaScript on for this page and reload it. Everything else works without it.",
        "Bu formun JavaScript'e yalnızca tek bir iş için ihtiyacı var: tarayıcınızın bot olmadığını gösteren, hiçbir üçüncü tarafa başvurmadan yapılan küçük hesaplama. Lütfen bu sayfada JavaScript'i açıp sayfayı yenileyin. Geri kalan her şey onsuz da çalışır."
    ),
    "form.unsubscribe_note" => (
        "You can unsubscribe at any time.",
        "Aboneliğinizi istediğiniz zaman iptal edebilirsiniz."
    ),
    "form.manage_link" => ("Already subscribed? Get a link to your preferences.", "Zaten abone misiniz? Tercih bağlantınızı alın."),
    "consent.sentence" => (
        "By signing up you are agreeing to our {terms} and {privacy}.",
        "Abone olarak {terms} ve {privacy} kabul etmiş olursunuz."
    ),
    "consent.terms" => ("Terms of Use", "Kullanım Koşullarımızı"),
    "consent.privacy" => ("Privacy Policy", "Gizlilik Politikamızı"),
    "done.title" => ("Check your inbox", "Gelen kutunuzu kontrol edin"),
    "done.double" => (
        "We have sent a message to the address you gave. Follow its link to confirm your subscription. If it does not arrive within a few minutes, look in your spam folder.",
        "Verdiğiniz adrese bir ileti gönderdik. Aboneliğinizi onaylamak için içindeki bağlantıyı izleyin. Birkaç dakika içinde gelmezse istenmeyen posta klasörünüze bakın."
    ),
    "done.single_title" => ("You are subscribed", "Abone oldunuz"),
    "done.single" => ("Thank you! Our newsletters are on their way to you.", "Teşekkürler! Bültenlerimiz size ulaşacak."),
    "error.email_missing" => ("Please enter your email address.", "Lütfen e-posta adresinizi girin."),
    "error.email_invalid" => ("Please enter a valid email address.", "Lütfen geçerli bir e-posta adresi girin."),
    "error.name_invalid" => (
        "Please enter a name of at most 200 characters, on one line.",
        "Lütfen tek satırda, en fazla 200 karakterlik bir ad girin."
    ),
    "error.no_topic" => ("Please choose at least one topic.", "Lütfen en az bir konu seçin."),
    "error.unknown_topic" => (
        "A chosen topic does not exist or is not open for signup.",
        "Seçilen konulardan biri yok ya da aboneliğe açık değil."
    ),
    "error.pow_missing" => (
        "Please wait until the anti-bot check is complete, then send the form again.",
        "Lütfen bot denetimi tamamlanana kadar bekleyip formu yeniden gönderin."
    ),
    "error.pow_invalid" => (
        "The anti-bot check failed. Please reload the page and try again.",
        "Bot denetimi başarısız oldu. Lütfen sayfayı yenileyip yeniden deneyin."
    ),
    "error.pow_expired" => (
        "The anti-bot check has expired. Please reload the page and try again.",
        "Bot denetiminin süresi doldu. Lütfen sayfayı yenileyip yeniden deneyin."
    ),
    "error.pow_replayed" => (
        "This anti-bot check was already used. Please reload the page and try again.",
        "Bu bot denetimi zaten kullanıldı. Lütfen sayfayı yenileyip yeniden deneyin."
    ),
    "error.captcha" => ("The captcha check failed. Please try again.", "Captcha denetimi başarısız oldu. Lütfen yeniden deneyin."),
    "error.captcha_unavailable" => (
        "We cannot check the captcha just now. Please try again in a moment.",
        "Captcha şu anda denetlenemiyor. Lütfen birazdan yeniden deneyin."
    ),
    "error.honeypot" => ("Your request could not be accepted.", "İsteğiniz kabul edilemedi."),
    "error.too_many_ip" => (
        "Too many requests from your network. Please try again later.",
        "Ağınızdan çok fazla istek geldi. Lütfen daha sonra yeniden deneyin."
    ),
    "error.too_many_overall" => (
        "We are receiving too many requests just now. Please try again in a moment.",
        "Şu anda çok fazla istek alıyoruz. Lütfen birazdan yeniden deneyin."
    ),
    "error.too_many_address" => (
        "Too many attempts for this address. Please try again later.",
        "Bu adres için çok fazla deneme yapıldı. Lütfen daha sonra yeniden deneyin."
    ),
    "error.unavailable" => (
        "Something went wrong on our side. Please try again in a moment.",
        "Bizim tarafımızda bir sorun oluştu. Lütfen birazdan yeniden deneyin."
    ),
    "link.invalid_title" => ("Invalid link", "Geçersiz bağlantı"),
    "link.invalid" => (
        "This link is not valid. Please use the link from the most recent message.",
        "Bu bağlantı geçerli değil. Lütfen en son iletideki bağlantıyı kullanın."
    ),
    "confirm.title" => ("Confirm your subscription", "Aboneliğinizi onaylayın"),
    "confirm.lead" => ("Confirm that {email} should receive:", "{email} adresine şu bültenlerin gönderilmesini onaylayın:"),
    "confirm.button" => ("Confirm subscription", "Aboneliği onayla"),
    "confirm.done_title" => ("Subscription confirmed", "Abonelik onaylandı"),
    "confirm.done" => ("Thank you. You will receive our newsletters from now on.", "Teşekkürler. Bundan sonra bültenlerimizi alacaksınız."),
    "confirm.nothing" => (
        "There is nothing left to confirm: your subscriptions are confirmed already.",
        "Onaylanacak bir şey kalmadı: abonelikleriniz zaten onaylı."
    ),
    "confirm.used" => ("This link was already used.", "Bu bağlantı zaten kullanıldı."),
    "confirm.expired_title" => ("This link has expired", "Bu bağlantının süresi doldu"),
    "confirm.expired" => (
        "Confirmation links are valid for a limited time. Ask for a new one:",
        "Onay bağlantıları sınırlı bir süre geçerlidir. Yenisini isteyin:"
    ),
    "confirm.resend" => ("Send me a new link", "Bana yeni bir bağlantı gönder"),
    "confirm.resent" => (
        "If a subscription is waiting for confirmation, a new link is on its way.",
        "Onay bekleyen bir abonelik varsa yeni bir bağlantı yola çıktı."
    ),
    "manage.title" => ("Your newsletter preferences", "Bülten tercihleriniz"),
    "manage.lead" => ("Preferences for {email}", "{email} için tercihler"),
    "manage.topics" => ("Topics you receive", "Aldığınız konular"),
    "manage.save" => ("Save preferences", "Tercihleri kaydet"),
    "manage.saved" => ("Your preferences are saved.", "Tercihleriniz kaydedildi."),
    "manage.pending" => ("waiting for confirmation", "onay bekliyor"),
    "manage.unsubscribe_all" => ("Unsubscribe from everything", "Tüm aboneliklerimden çık"),
    "manage.unsubscribed_all" => (
        "You are unsubscribed from everything. You will get no more newsletters from us.",
        "Tüm aboneliklerinizden çıktınız. Bizden artık bülten almayacaksınız."
    ),
    "manage.change_title" => ("Change your address", "Adresinizi değiştirin"),
    "manage.new_email" => ("New email address", "Yeni e-posta adresi"),
    "manage.change_button" => ("Send a confirmation to the new address", "Yeni adrese onay gönder"),
    "manage.change_sent" => (
        "We have sent a confirmation link to the new address. The change takes effect when you follow it.",
        "Yeni adrese bir onay bağlantısı gönderdik. Değişiklik, bağlantıyı izlediğinizde geçerli olur."
    ),
    "change.title" => ("Confirm your new address", "Yeni adresinizi onaylayın"),
    "change.lead" => ("Receive our newsletters at {email} from now on?", "Bültenlerimiz bundan sonra {email} adresine mi gönderilsin?"),
    "change.button" => ("Change address", "Adresi değiştir"),
    "change.done" => ("Your address is changed.", "Adresiniz değiştirildi."),
    "change.taken" => (
        "This address is already subscribed, so the change was not made. Manage it from a message sent to it.",
        "Bu adres zaten abone olduğu için değişiklik yapılmadı. Onu, o adrese gelen bir iletiden yönetin."
    ),
    "data.title" => ("Your data", "Verileriniz"),
    "data.export" => ("Download everything stored about me (JSON)", "Hakkımda saklanan her şeyi indir (JSON)"),
    "data.erase" => ("Erase my data", "Verilerimi sil"),
    "data.erase_confirm" => (
        "I understand that this ends my subscriptions and deletes everything stored about me.",
        "Bunun aboneliklerimi sonlandıracağını ve hakkımda saklanan her şeyi sileceğini anlıyorum."
    ),
    "data.erase_needs_confirm" => ("Tick the box to confirm the erasure.", "Silmeyi onaylamak için kutuyu işaretleyin."),
    "data.erased_title" => ("Your data is erased", "Verileriniz silindi"),
    "data.erased" => (
        "Everything stored about you is erased. We keep only a one-way fingerprint of your address, so that we never mail it again unless you sign up anew.",
        "Hakkınızda saklanan her şey silindi. Yalnızca adresinizin tek yönlü bir parmak izini saklıyoruz; böylece yeniden abone olmadıkça size bir daha e-posta göndermeyiz."
    ),
    "sendlink.title" => ("Get a link to your preferences", "Tercih bağlantınızı alın"),
    "sendlink.lead" => (
        "Enter your address and we will email you a link to manage your subscriptions.",
        "Adresinizi girin; aboneliklerinizi yönetmeniz için size bir bağlantı gönderelim."
    ),
    "sendlink.button" => ("Email me my link", "Bağlantımı gönder"),
    "sendlink.sent" => (
        "If this address is on our lists, a link is on its way to it.",
        "Bu adres listelerimizdeyse bağlantı yola çıktı."
    ),
    "unsub.title" => ("Unsubscribe", "Abonelikten çık"),
    "unsub.lead" => ("Unsubscribe {email} from:", "{email} adresinin şu aboneliklerini iptal et:"),
    "unsub.button" => ("Unsubscribe", "Abonelikten çık"),
    "unsub.done_title" => ("Unsubscribed", "Abonelikten çıkıldı"),
    "unsub.done" => (
        "You are unsubscribed. You will get no more of these newsletters.",
        "Abonelikten çıktınız. Bu bültenleri artık almayacaksınız."
    ),
    "unsub.none" => (
        "You are not subscribed to any of these newsletters any more.",
        "Artık bu bültenlerin hiçbirine abone değilsiniz."
    ),
    "unsub.unknown" => ("This address receives nothing from us.", "Bu adrese bizden hiçbir şey gönderilmiyor."),
    "unsub.manage" => ("Manage all your preferences", "Tüm tercihlerinizi yönetin"),
    "unsub.mail_link" => ("Mail me the link to all my preferences", "Tüm tercihlerimin bağlantısını e-postayla gönder"),
    "embed.lead" => ("Paste this into any page of your site. It posts to bulten's hosted form, so the same checks apply; the anti-bot check runs in the reader's browser and is served by bulten itself.", "Bunu sitenizin herhangi bir sayfasına yapıştırın. Form bültenin barındırılan formuna gönderilir, bu yüzden aynı denetimlerden geçer; bot denetimi okurun tarayıcısında çalışır ve bültenin kendisinden sunulur."),
    "embed.live" => ("How it looks", "Nasıl görünür"),
    "retry.title" => ("Please try again", "Lütfen yeniden deneyin"),
    "mail.confirm.subject" => ("Confirm your subscription", "Aboneliğinizi onaylayın"),
    "mail.confirm.body" => (
        "Someone, hopefully you, asked to subscribe {email} to:",
        "Birisi, umarız sizsiniz, {email} adresini şu bültenlere abone etmek istedi:"
    ),
    "mail.confirm.ignore" => (
        "If it was not you, ignore this message: without a confirmation you will get nothing from us.",
        "Bu siz değilseniz bu iletiyi dikkate almayın: onay olmadan size hiçbir şey göndermeyiz."
    ),
    "mail.link.subject" => ("Your newsletter preferences", "Bülten tercihleriniz"),
    "mail.link.body" => (
        "Here is your link to manage your newsletter subscriptions:",
        "Bülten aboneliklerinizi yönetmeniz için bağlantınız:"
    ),
    "mail.link.button" => ("Manage my subscriptions", "Aboneliklerimi yönet"),
    "mail.link.ignore" => (
        "If you did not ask for it, you can ignore this message.",
        "Bunu siz istemediyseniz bu iletiyi dikkate almayabilirsiniz."
    ),
    "mail.change.subject" => ("Confirm your new address", "Yeni adresinizi onaylayın"),
    "mail.change.body" => (
        "Someone, hopefully you, asked to receive our newsletters at this address from now on.",
        "Birisi, umarız sizsiniz, bültenlerimizi bundan sonra bu adrese almak istedi."
    ),
    "mail.change.button" => ("Confirm the new address", "Yeni adresi onayla"),
    "desk.name" => ("Desk", "Masa"),
    "desk.skip" => ("Skip to the content", "İçeriğe geç"),
    "desk.nav" => ("Desk sections", "Masa bölümleri"),
    "desk.other_lang" => ("Türkçe", "English"),
    "desk.logout" => ("Sign out", "Çıkış yap"),
    "desk.back" => ("Back to the dashboard", "Panoya dön"),
    "desk.role.admin" => ("admin", "yönetici"),
    "desk.role.editor" => ("editor", "editör"),
    "desk.role.viewer" => ("viewer", "izleyici"),
    "desk.login.title" => ("Sign in", "Giriş yap"),
    "desk.login.username" => ("User name", "Kullanıcı adı"),
    "desk.login.password" => ("Password", "Parola"),
    "desk.login.submit" => ("Sign in", "Giriş yap"),
    "desk.login.wrong" => ("The user name or password is wrong.", "Kullanıcı adı ya da parola yanlış."),
    "desk.login.wait" => (
        "Too many failed attempts. Please wait {seconds} seconds and try again.",
        "Çok fazla başarısız deneme. Lütfen {seconds} saniye bekleyip yeniden deneyin."
    ),
    "desk.login.locked" => (
        "Signing in is locked after too many failed attempts. Try again later, or ask an admin to lift the lock.",
        "Çok fazla başarısız denemeden sonra giriş kilitlendi. Daha sonra yeniden deneyin ya da bir yöneticiden kilidi kaldırmasını isteyin."
    ),
    "desk.login.wrong_code" => ("The code is wrong or was used already.", "Kod yanlış ya da daha önce kullanılmış."),
    "desk.login.expired" => (
        "Too much time passed since the password. Please sign in again.",
        "Paroladan bu yana çok zaman geçti. Lütfen yeniden giriş yapın."
    ),
    "desk.login.code_title" => ("Two-step sign-in", "İki adımlı giriş"),
    "desk.login.code_hint" => (
        "Type the six-digit code your authenticator app shows, or one of your recovery codes.",
        "Kimlik doğrulama uygulamanızın gösterdiği altı haneli kodu ya da kurtarma kodlarınızdan birini yazın."
    ),
    "desk.login.code" => ("Code", "Kod"),
    "desk.twofa.title" => ("Two-step sign-in", "İki adımlı giriş"),
    "desk.twofa.explain" => (
        "After your password, the desk will also ask for a code from an authenticator app on your phone, so a stolen password alone signs nobody in.",
        "Parolanızdan sonra masa, telefonunuzdaki bir kimlik doğrulama uygulamasından bir kod da isteyecek; böylece yalnızca çalınmış bir parolayla kimse giriş yapamaz."
    ),
    "desk.twofa.begin" => ("Set up two-step sign-in", "İki adımlı girişi kur"),
    "desk.twofa.scan" => (
        "Scan this code with an authenticator app (for example FreeOTP, Aegis or Google Authenticator).",
        "Bu kodu bir kimlik doğrulama uygulamasıyla tarayın (örneğin FreeOTP, Aegis ya da Google Authenticator)."
    ),
    "desk.twofa.type_code" => ("Type the six-digit code the app then shows.", "Ardından uygulamanın gösterdiği altı haneli kodu yazın."),
    "desk.twofa.manual" => ("Cannot scan? Type this key into the app:", "Tarayamıyor musunuz? Bu anahtarı uygulamaya yazın:"),
    "desk.twofa.confirm" => ("Turn on", "Aç"),
    "desk.twofa.open_app" => ("On this phone? Open the key in the app.", "Bu telefonda mısınız? Anahtarı uygulamada açın."),
    "desk.twofa.wrong_code" => (
        "That code does not match. Check the phone's clock and type the code shown now.",
        "Bu kod tutmuyor. Telefonun saatini kontrol edip şu an gösterilen kodu yazın."
    ),
    "desk.twofa.now_on" => ("Two-step sign-in is on.", "İki adımlı giriş açıldı."),
    "desk.twofa.codes_explain" => (
        "Keep these recovery codes somewhere safe. Each signs you in once if you lose your phone. They are shown only now.",
        "Bu kurtarma kodlarını güvenli bir yerde saklayın. Telefonunuzu kaybederseniz her biri bir kez giriş yapmanızı sağlar. Yalnızca şimdi gösteriliyorlar."
    ),
    "desk.twofa.on" => (
        "Two-step sign-in is on. Recovery codes left: {left}.",
        "İki adımlı giriş açık. Kalan kurtarma kodu: {left}."
    ),
    "desk.twofa.off_password" => ("Your password, to turn it off", "Kapatmak için parolanız"),
    "desk.twofa.off" => ("Turn off two-step sign-in", "İki adımlı girişi kapat"),
    "desk.twofa.turned_off" => ("Two-step sign-in is off.", "İki adımlı giriş kapatıldı."),
    "desk.twofa.off_code" => ("A code from your authenticator app, or a recovery code", "Doğrulama uygulamanızdan bir kod ya da bir kurtarma kodu"),
    "desk.twofa.off_refused" => ("The password or the code is wrong, or there were too many tries: try again later.", "Parola ya da kod yanlış, ya da çok fazla deneme yapıldı: daha sonra yeniden deneyin."),
    "desk.twofa.required" => (
        "Admins must use two-step sign-in here. Please set it up to continue.",
        "Burada yöneticilerin iki adımlı giriş kullanması gerekiyor. Devam etmek için lütfen kurun."
    ),
    "desk.users.title" => ("Accounts", "Hesaplar"),
    "desk.users.people" => ("People", "Kişiler"),
    "desk.users.you" => ("you", "siz"),
    "desk.users.enabled" => ("enabled", "etkin"),
    "desk.users.disabled" => ("disabled", "devre dışı"),
    "desk.users.twofa_on" => ("two-step sign-in on", "iki adımlı giriş açık"),
    "desk.users.twofa_off" => ("two-step sign-in off", "iki adımlı giriş kapalı"),
    "desk.users.locked" => ("locked out", "kilitli"),
    "desk.users.must_change" => ("must choose a new password", "yeni parola seçmeli"),
    "desk.users.last_seen" => ("last seen", "son görülme"),
    "desk.users.never" => ("never", "hiç"),
    "desk.users.role" => ("Role", "Rol"),
    "desk.users.status" => ("Status", "Durum"),
    "desk.users.save" => ("Save", "Kaydet"),
    "desk.users.reset" => ("Reset the password", "Parolayı sıfırla"),
    "desk.users.unlock" => ("Lift the lockout", "Kilidi kaldır"),
    "desk.users.delete" => ("Delete…", "Sil…"),
    "desk.users.delete_confirm" => ("Delete {name}? They can no longer sign in.", "{name} silinsin mi? Artık giriş yapamaz."),
    "desk.users.delete_yes" => ("Yes, delete", "Evet, sil"),
    "desk.users.invite" => ("Add a person", "Kişi ekle"),
    "desk.users.invite_hint" => (
        "Letters, digits and . _ - @. bulten draws a first password, shown once, to be changed at the first sign-in.",
        "Harfler, rakamlar ve . _ - @. bulten bir ilk parola belirler; bir kez gösterilir ve ilk girişte değiştirilmelidir."
    ),
    "desk.users.invite_submit" => ("Add", "Ekle"),
    "desk.users.invited" => ("{name} can now sign in with this password, which they must change at once:", "{name} artık bu parolayla giriş yapabilir; parolayı hemen değiştirmesi gerekir:"),
    "desk.users.reset_done" => ("The new password of {name}, to be changed at their next sign-in:", "{name} için yeni parola; bir sonraki girişte değiştirilmelidir:"),
    "desk.users.token_made" => (
        "The token of {name}. Send it as the header Authorization: token NAME:TOKEN.",
        "{name} için erişim anahtarı. Authorization: token AD:ANAHTAR başlığıyla gönderin."
    ),
    "desk.users.shown_once" => ("This is shown only now. Copy it before leaving the page.", "Bu yalnızca şimdi gösteriliyor. Sayfadan ayrılmadan önce kopyalayın."),
    "desk.users.back" => ("Back to the accounts", "Hesaplara dön"),
    "desk.users.programs" => ("Programs (API tokens)", "Programlar (API anahtarları)"),
    "desk.users.programs_hint" => (
        "Programs call the API with a token; only its hash is kept, so a lost token is replaced, not recovered.",
        "Programlar API'yi bir anahtarla çağırır; yalnızca özeti saklanır, bu yüzden kaybolan anahtar geri alınmaz, yenisi oluşturulur."
    ),
    "desk.users.token_new" => ("Add a program", "Program ekle"),
    "desk.users.token_name" => ("Name", "Ad"),
    "desk.users.token_submit" => ("Make a token", "Anahtar oluştur"),
    "desk.users.token_delete_confirm" => ("Delete {name}? Its token stops working at once.", "{name} silinsin mi? Anahtarı hemen çalışmaz olur."),
    "desk.users.done_updated" => ("The account is changed.", "Hesap değiştirildi."),
    "desk.users.done_unlocked" => ("The lockout is lifted.", "Kilit kaldırıldı."),
    "desk.users.done_deleted" => ("The person is deleted.", "Kişi silindi."),
    "desk.users.done_token_deleted" => ("The program's token is deleted.", "Programın anahtarı silindi."),
    "desk.users.done_lists" => ("The account's lists are changed.", "Hesabın listeleri değiştirildi."),
    "desk.users.lists" => ("Lists", "Listeler"),
    "desk.users.lists_admin" => ("every list (admins reach them all)", "tüm listeler (yöneticiler hepsine erişir)"),
    "desk.users.lists_all" => ("every list", "tüm listeler"),
    "desk.users.lists_some" => ("only the lists chosen below", "yalnızca aşağıda seçilen listeler"),
    "desk.users.lists_none" => ("no list", "hiçbir liste"),
    "desk.users.lists_reach" => ("Which lists this account reaches", "Bu hesabın erişebildiği listeler"),
    "desk.users.lists_no" => ("no access", "erişim yok"),
    "desk.users.lists_get" => ("read", "okuma"),
    "desk.users.lists_manage" => ("read and change", "okuma ve değiştirme"),
    "desk.lists.title" => ("Lists", "Listeler"),
    "desk.lists.all" => ("All lists", "Tüm listeler"),
    "desk.lists.kind" => ("Kind", "Tür"),
    "desk.lists.type_public" => ("public", "herkese açık"),
    "desk.lists.type_private" => ("private", "özel"),
    "desk.lists.type_temporary" => ("temporary", "geçici"),
    "desk.lists.type_hint" => (
        "Readers can sign up to public lists on the form; private lists are filled by the desk, imports and the API.",
        "Okurlar herkese açık listelere formdan abone olabilir; özel listeler masa, içe aktarma ve API ile doldurulur."
    ),
    "desk.lists.optin" => ("Confirmation", "Onay"),
    "desk.lists.optin_double" => ("double opt-in", "çift onaylı"),
    "desk.lists.optin_single" => ("single opt-in", "tek onaylı"),
    "desk.lists.optin_hint" => (
        "Double opt-in sends a confirmation mail and mails only readers who confirmed.",
        "Çift onay bir onay e-postası gönderir ve yalnızca onaylayan okurlara ileti yollar."
    ),
    "desk.lists.active" => ("active", "etkin"),
    "desk.lists.archived" => ("archived", "arşivlenmiş"),
    "desk.lists.language" => ("Language of its pages and mail", "Sayfalarının ve e-postalarının dili"),
    "desk.lists.language_reader" => ("The reader's", "Okurun dili"),
    "desk.lists.tags" => ("Tags", "Etiketler"),
    "desk.lists.tags_hint" => ("Separated by commas.", "Virgülle ayırın."),
    "desk.lists.description" => ("Description", "Açıklama"),
    "desk.lists.name" => ("Name", "Ad"),
    "desk.lists.new" => ("New list", "Yeni liste"),
    "desk.lists.create" => ("Create the list", "Listeyi oluştur"),
    "desk.lists.edit" => ("Edit the list", "Listeyi düzenle"),
    "desk.lists.snippet" => ("Signup form for this list", "Bu listenin abonelik formu"),
    "desk.lists.snippet_hint" => (
        "Paste this into a page of your site; it posts to bulten with the proof of work. Or link to the hosted form:",
        "Bunu sitenizin bir sayfasına yapıştırın; bulten'e iş kanıtıyla gönderilir. Ya da barındırılan forma bağlantı verin:"
    ),
    "desk.lists.hosted" => ("the hosted form", "barındırılan form"),
    "desk.lists.copy" => ("Copy the snippet", "Kodu kopyala"),
    "desk.lists.copied" => ("Copied.", "Kopyalandı."),
    "desk.lists.delete_confirm" => (
        "Delete {name}? Its {n} subscriptions go with it; the readers stay.",
        "{name} silinsin mi? {n} aboneliği de silinir; okurlar kalır."
    ),
    "desk.lists.done_created" => ("The list is created.", "Liste oluşturuldu."),
    "desk.lists.done_saved" => ("The list is saved.", "Liste kaydedildi."),
    "desk.lists.done_deleted" => ("The list is deleted.", "Liste silindi."),
    "desk.audit.title" => ("Audit log", "Denetim kaydı"),
    "desk.audit.actor" => ("Who", "Kim"),
    "desk.audit.object" => ("Object kind", "Nesne türü"),
    "desk.audit.object_id" => ("Object ID", "Nesne kimliği"),
    "desk.audit.from" => ("From (day)", "Başlangıç (gün)"),
    "desk.audit.to" => ("To (day, included)", "Bitiş (gün, dahil)"),
    "desk.audit.filter" => ("Filter", "Süz"),
    "desk.audit.when" => ("When", "Ne zaman"),
    "desk.audit.what" => ("What", "Ne"),
    "desk.audit.on" => ("On", "Neye"),
    "desk.audit.from_ip" => ("From", "Nereden"),
    "desk.audit.changes" => ("Before and after", "Önce ve sonra"),
    "desk.audit.before" => ("Before", "Önce"),
    "desk.audit.after" => ("After", "Sonra"),
    "desk.audit.none" => ("No change matches.", "Eşleşen değişiklik yok."),
    "desk.audit.count" => ("{n} changes", "{n} değişiklik"),
    "desk.audit.previous" => ("Newer", "Daha yeni"),
    "desk.audit.next" => ("Older", "Daha eski"),
    "desk.readers.title" => ("Readers", "Okurlar"),
    "desk.readers.all" => ("All readers", "Tüm okurlar"),
    "desk.readers.search" => ("Address or name", "Adres ya da ad"),
    "desk.readers.search_hint" => ("Part of an address or a name is enough.", "Adresin ya da adın bir kısmı yeterli."),
    "desk.readers.any_list" => ("Any list", "Herhangi bir liste"),
    "desk.readers.any_status" => ("Any status", "Herhangi bir durum"),
    "desk.readers.advanced" => ("Advanced filter", "Gelişmiş süzgeç"),
    "desk.readers.query" => ("Filter", "Süzgeç"),
    "desk.readers.query_hint" => (
        "As in listmonk, for example: subscribers.attribs->>'city' = 'İzmir' AND subscribers.created_at > '2026-01-01'",
        "listmonk'taki gibi, örneğin: subscribers.attribs->>'city' = 'İzmir' AND subscribers.created_at > '2026-01-01'"
    ),
    "desk.readers.find" => ("Find", "Bul"),
    "desk.readers.count" => ("{n} readers match.", "{n} okur eşleşiyor."),
    "desk.readers.count_one" => ("1 reader matches.", "1 okur eşleşiyor."),
    "desk.readers.none" => ("No reader matches.", "Eşleşen okur yok."),
    "desk.readers.count_over" => ("More than {n} readers match.", "{n} okurdan fazlası eşleşiyor."),
    "desk.readers.page" => ("page {page}", "sayfa {page}"),
    "desk.readers.since" => ("Since", "Başlangıç"),
    "desk.readers.changed" => ("Last changed", "Son değişiklik"),
    "desk.readers.pages" => ("Pages of readers", "Okur sayfaları"),
    "desk.readers.previous" => ("Previous", "Önceki"),
    "desk.readers.next" => ("Next", "Sonraki"),
    "desk.readers.page_of" => ("page {page} of {pages}", "sayfa {page} / {pages}"),
    "desk.readers.attribs" => ("Attributes", "Öznitelikler"),
    "desk.readers.download" => ("Download everything stored about this reader", "Bu okur hakkında saklanan her şeyi indir"),
    "desk.readers.no_lists" => ("On no list.", "Hiçbir listede değil."),
    "desk.readers.consents" => ("Consents", "Onay kayıtları"),
    "desk.readers.no_consents" => ("No consent recorded.", "Kayıtlı onay yok."),
    "desk.readers.terms" => ("terms", "koşullar"),
    "desk.readers.privacy" => ("privacy", "gizlilik"),
    "desk.readers.mails" => ("Mails sent", "Gönderilen e-postalar"),
    "desk.readers.no_mails" => ("No mail sent yet.", "Henüz e-posta gönderilmedi."),
    "desk.readers.transactional" => ("a transactional mail", "bir işlem e-postası"),
    "desk.readers.edit" => ("Change this reader", "Bu okuru değiştir"),
    "desk.readers.attribs_hint" => ("A JSON object of names and values; it replaces the attributes.", "Adlar ve değerlerden oluşan bir JSON nesnesi; öznitelikleri değiştirir."),
    "desk.readers.optin" => ("Send the confirmation mail again", "Onay e-postasını yeniden gönder"),
    "desk.readers.optin_nothing" => ("No subscription of this reader waits for confirmation.", "Bu okurun onay bekleyen aboneliği yok."),
    "desk.readers.optin_limited" => ("This address had a confirmation mail moments ago or has had its share for today.", "Bu adrese az önce onay e-postası gitti ya da bugünkü payını doldurdu."),
    "desk.readers.blocklist" => ("Blocklist…", "Engelle…"),
    "desk.readers.blocklist_confirm" => ("Blocklist {email}? They leave every list and get no more mail.", "{email} engellensin mi? Tüm listelerden çıkar ve artık e-posta almaz."),
    "desk.readers.blocklist_yes" => ("Yes, blocklist", "Evet, engelle"),
    "desk.readers.delete_confirm" => ("Delete {email} and everything stored about them?", "{email} ve hakkında saklanan her şey silinsin mi?"),
    "desk.readers.add" => ("Add a reader", "Okur ekle"),
    "desk.readers.add_submit" => ("Add the reader", "Okuru ekle"),
    "desk.readers.name_hint" => ("Left empty, the part of the address before the @.", "Boş bırakılırsa adresin @ işaretinden önceki kısmı."),
    "desk.readers.preconfirm" => ("Confirm the subscriptions now", "Abonelikleri şimdi onayla"),
    "desk.readers.preconfirm_hint" => ("Only when the reader has agreed already: no confirmation mail is sent.", "Yalnızca okur zaten onay verdiyse: onay e-postası gönderilmez."),
    "desk.readers.done_added" => ("The reader is added.", "Okur eklendi."),
    "desk.readers.done_saved" => ("The reader is changed.", "Okur değiştirildi."),
    "desk.readers.done_blocklisted" => ("The reader is blocklisted.", "Okur engellendi."),
    "desk.readers.done_optin_sent" => ("The confirmation mail is on its way.", "Onay e-postası yola çıktı."),
    "desk.readers.done_deleted" => ("The reader is deleted.", "Okur silindi."),
    "desk.readers.done_bulk" => ("Done: the readers found are changed.", "Tamam: bulunan okurlar değiştirildi."),
    "desk.import.title" => ("Import", "İçe aktar"),
    "desk.import.none" => ("No import has run yet.", "Henüz içe aktarma yapılmadı."),
    "desk.import.counts" => ("{imported} imported, {failed} refused, of {total} rows.", "{total} satırdan {imported} içe aktarıldı, {failed} reddedildi."),
    "desk.import.refused" => ("Rows refused", "Reddedilen satırlar"),
    "desk.import.line" => ("line {line}", "satır {line}"),
    "desk.import.more_refused" => ("And {n} more: the API's log has them all.", "Ve {n} satır daha: tamamı API günlüğünde."),
    "desk.import.stop" => ("Stop the import", "İçe aktarmayı durdur"),
    "desk.import.clear" => ("Forget finished imports", "Biten içe aktarmaları unut"),
    "desk.import.new" => ("Import readers from a CSV file", "CSV dosyasından okur içe aktar"),
    "desk.import.file" => ("CSV file", "CSV dosyası"),
    "desk.import.file_hint" => ("Columns email, name and attributes (JSON), as listmonk exports them; a bad row is refused with its line, the good ones are kept.", "email, name ve attributes (JSON) sütunları, listmonk'un dışa aktardığı gibi; hatalı satır numarasıyla reddedilir, doğru satırlar korunur."),
    "desk.import.mode" => ("What to do", "Ne yapılsın"),
    "desk.import.mode_subscribe" => ("Subscribe them to the lists", "Listelere abone et"),
    "desk.import.mode_blocklist" => ("Blocklist them", "Engelle"),
    "desk.import.subscription_status" => ("Subscriptions", "Abonelikler"),
    "desk.import.status_default" => ("as each list asks (double opt-in waits)", "her listenin istediği gibi (çift onay bekler)"),
    "desk.import.delimiter" => ("Delimiter", "Ayraç"),
    "desk.import.delimiter_hint" => ("Left empty, found from the first line.", "Boş bırakılırsa ilk satırdan bulunur."),
    "desk.import.overwrite" => ("Overwrite the names and attributes of readers already stored", "Kayıtlı okurların ad ve özniteliklerinin üzerine yaz"),
    "desk.import.submit" => ("Import", "İçe aktar"),
    "desk.import.no_file" => ("Choose a CSV file to import.", "İçe aktarılacak bir CSV dosyası seçin."),
    "desk.import.done_started" => ("The import has started; its progress shows below.", "İçe aktarma başladı; ilerlemesi aşağıda."),
    "desk.import.done_stopped" => ("Done.", "Tamam."),
    "desk.import.status_importing" => ("Importing…", "İçe aktarılıyor…"),
    "desk.import.status_stopping" => ("Stopping after this batch…", "Bu partiden sonra duruyor…"),
    "desk.import.status_finished" => ("Finished.", "Bitti."),
    "desk.import.status_failed" => ("Failed.", "Başarısız."),
    "desk.import.status_stopped" => ("Stopped.", "Durduruldu."),
    "desk.bulk.title" => ("Change many readers", "Çok sayıda okuru değiştir"),
    "desk.bulk.with_all" => ("With every reader found", "Bulunan tüm okurlarla"),
    "desk.bulk.next" => ("Next…", "İleri…"),
    "desk.bulk.yes" => ("Yes, do it", "Evet, yap"),
    "desk.bulk.filter" => ("Readers found by", "Okurları bulan süzgeç"),
    "desk.bulk.everyone" => ("no filter: every reader", "süzgeç yok: tüm okurlar"),
    "desk.bulk.choose_list" => ("Choose the list to add the readers to or take them from.", "Okurların ekleneceği ya da çıkarılacağı listeyi seçin."),
    "desk.bulk.changed" => ("The number of readers found has changed since: check it and confirm again.", "Bulunan okur sayısı o zamandan beri değişti: kontrol edip yeniden onaylayın."),
    "desk.bulk.action_add" => ("add to the list", "listeye ekle"),
    "desk.bulk.action_remove" => ("take off the list", "listeden çıkar"),
    "desk.bulk.action_unsubscribe" => ("unsubscribe from the list", "listeden aboneliğini bitir"),
    "desk.bulk.action_blocklist" => ("blocklist", "engelle"),
    "desk.bulk.action_delete" => ("delete", "sil"),
    "desk.bulk.do_add" => ("Add {n} readers to {list}, confirmed?", "{n} okur {list} listesine onaylı olarak eklensin mi?"),
    "desk.bulk.do_remove" => ("Take {n} readers off {list}?", "{n} okur {list} listesinden çıkarılsın mı?"),
    "desk.bulk.do_unsubscribe" => ("Unsubscribe {n} readers from {list}?", "{n} okurun {list} aboneliği bitirilsin mi?"),
    "desk.bulk.do_blocklist" => ("Blocklist {n} readers? They leave every list and get no more mail.", "{n} okur engellensin mi? Tüm listelerden çıkarlar ve artık e-posta almazlar."),
    "desk.bulk.do_delete" => ("Delete {n} readers and everything stored about them? This cannot be undone.", "{n} okur ve hakkında saklanan her şey silinsin mi? Bu geri alınamaz."),
    "desk.password.title" => ("Password", "Parola"),
    "desk.password.must_change" => (
        "An admin reset your password. Please choose a new one to continue.",
        "Parolanız bir yönetici tarafından sıfırlandı. Devam etmek için lütfen yeni bir parola seçin."
    ),
    "desk.password.current" => ("Current password", "Şimdiki parola"),
    "desk.password.new" => ("New password", "Yeni parola"),
    "desk.password.hint" => ("At least 8 characters.", "En az 8 karakter."),
    "desk.password.repeat" => ("New password again", "Yeni parola (yeniden)"),
    "desk.password.submit" => ("Change the password", "Parolayı değiştir"),
    "desk.password.mismatch" => ("The two new passwords differ.", "İki yeni parola birbirini tutmuyor."),
    "desk.password.changed" => (
        "Your password is changed. Every other session of yours has ended.",
        "Parolanız değişti. Diğer tüm oturumlarınız kapatıldı."
    ),
    "desk.sessions.title" => ("Sessions", "Oturumlar"),
    "desk.sessions.everywhere_hint" => (
        "Signs you out in every browser, this one included, for example after losing a laptop.",
        "Bu tarayıcı dahil tüm tarayıcılarda oturumunuzu kapatır; örneğin bir dizüstü bilgisayarı kaybettiğinizde."
    ),
    "desk.sessions.everywhere" => ("Sign out everywhere", "Her yerde çıkış yap"),
    "desk.refused.title" => ("Not allowed", "İzin verilmedi"),
    "desk.refused.session" => ("Please sign in first.", "Lütfen önce giriş yapın."),
    "desk.refused.csrf" => (
        "This request did not come from a page of the desk and was refused. Reload the page and try again.",
        "Bu istek masanın bir sayfasından gelmediği için reddedildi. Sayfayı yenileyip yeniden deneyin."
    ),
    "desk.refused.size" => ("The request is too large.", "İstek çok büyük."),
    "desk.refused.permission" => ("Your role does not allow this", "Rolünüz buna izin vermiyor"),
    "desk.dash.title" => ("Dashboard", "Pano"),
    "desk.dash.counted_at" => (
        "Counted at {time}; counts are refreshed every minute. Running campaigns are live.",
        "Sayımlar {time} itibarıyla; her dakika yenilenir. Süren kampanyalar canlıdır."
    ),
    "desk.dash.readers" => ("Readers", "Okurlar"),
    "desk.dash.queue" => ("Messages waiting", "Bekleyen iletiler"),
    "desk.dash.running" => ("Running campaigns", "Süren kampanyalar"),
    "desk.dash.none_running" => ("No campaign is running.", "Süren kampanya yok."),
    "desk.dash.progress" => (
        "{percent}% · {sent} of {total} sent · {failed} failed · {rate} a minute",
        "%{percent} · {total} iletinin {sent} tanesi gönderildi · {failed} başarısız · dakikada {rate}"
    ),
    "desk.dash.eta" => ("about {minutes} min left", "yaklaşık {minutes} dk kaldı"),
    "desk.dash.activity" => ("Activity", "Etkinlik"),
    "desk.dash.days" => ("last {n} days", "son {n} gün"),
    "desk.dash.signups" => ("New readers", "Yeni okurlar"),
    "desk.dash.confirmations" => ("Confirmations", "Onaylar"),
    "desk.dash.unsubscriptions" => ("Unsubscriptions", "Abonelikten çıkışlar"),
    "desk.dash.sent" => ("Messages sent", "Gönderilen iletiler"),
    "desk.dash.numbers" => ("The numbers", "Sayılar"),
    "desk.dash.day" => ("Day", "Gün"),
    "desk.dash.count" => ("Count", "Sayı"),
    "desk.dash.nothing" => ("Nothing in this period.", "Bu dönemde bir şey yok."),
    "desk.dash.lists" => ("Lists", "Listeler"),
    "desk.dash.list" => ("List", "Liste"),
    "desk.dash.total" => ("Total", "Toplam"),
    "desk.dash.no_lists" => ("No list yet.", "Henüz liste yok."),
    "desk.status.enabled" => ("enabled", "etkin"),
    "desk.status.disabled" => ("disabled", "devre dışı"),
    "desk.status.blocklisted" => ("blocklisted", "engelli"),
    "desk.status.confirmed" => ("confirmed", "onaylı"),
    "desk.status.unconfirmed" => ("unconfirmed", "onaysız"),
    "desk.status.unsubscribed" => ("unsubscribed", "ayrılmış"),
}

/// The text for `key` in `lang`; the key itself when it is unknown, so a missing text shows
/// as its key rather than as nothing (a test keeps every key used in a template known).
pub(crate) fn text(lang: Lang, key: &str) -> &str {
    lookup(lang, key).unwrap_or(key)
}

/// The other language, for the switch on every page.
pub(crate) fn other(lang: Lang) -> Lang {
    match lang {
        Lang::En => Lang::Tr,
        Lang::Tr => Lang::En,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_both_languages_and_turkish_letters_survive() {
        for key in KEYS {
            assert!(
                lookup(Lang::En, key).is_some_and(|t| !t.is_empty()),
                "{key}"
            );
            assert!(
                lookup(Lang::Tr, key).is_some_and(|t| !t.is_empty()),
                "{key}"
            );
        }
        assert_eq!(text(Lang::Tr, "lang.name"), "Türkçe");
        assert!(text(Lang::Tr, "form.title").contains('ü'));
        assert_eq!(text(Lang::En, "no.such.key"), "no.such.key");
    }

    /// Every string in the code and the templates that looks like a key of the catalog
    /// (a known first part, dots, lowercase words) must be one: a typo would show the
    /// reader a raw key.
    #[test]
    fn every_key_the_code_and_templates_ask_for_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let prefixes: std::collections::HashSet<&str> =
            KEYS.iter().filter_map(|k| k.split('.').next()).collect();
        let mut files = Vec::new();
        let mut dirs = vec![root.join("src"), root.join("templates")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path
                    .extension()
                    .is_some_and(|e| e == "rs" || e == "html" || e == "txt")
                {
                    files.push(path);
                }
            }
        }
        let mut checked = 0;
        let mut missing = Vec::new();
        for path in files.iter().filter(|p| !p.ends_with("i18n.rs")) {
            let source = std::fs::read_to_string(path).unwrap();
            for (i, candidate) in source.split('"').enumerate() {
                let looks_like_key = i % 2 == 1
                    && candidate.contains('.')
                    && candidate.split('.').all(|part| {
                        !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    })
                    && candidate
                        .split('.')
                        .next()
                        .is_some_and(|p| prefixes.contains(p))
                    && ![".html", ".txt", ".css", ".js"]
                        .iter()
                        .any(|file| candidate.ends_with(file));
                if looks_like_key {
                    checked += 1;
                    if !KEYS.contains(&candidate) {
                        missing.push(format!("{}: {candidate}", path.display()));
                    }
                }
            }
        }
        assert!(
            checked > 50,
            "keys were found in the code and templates ({checked})"
        );
        assert!(
            missing.is_empty(),
            "keys missing from the catalog: {missing:#?}"
        );
    }
}
